"""The default path as a user meets it: import, ``POST /v1/models/train {}``, ask for lists.

For each shared data set (MovieLens 100K, MovieLens latest-small, Last.fm 2K):

  * one holdout per user: the last positive event (per-user temporal leave-last-out). Last.fm
    has no timestamps (the importer stamps every play alike), so there one seeded random
    positive per user is held out instead;
  * ``recserve serve`` starts in a subprocess on a fresh data folder; items, users,
    relations and the train part of the events go in through the HTTP API; ``POST
    /v1/models/train {}`` starts the default job and the script waits for it; then
    ``GET /v1/users/{id}/recommendations?n=10`` is asked over HTTP for every held-out user
    and the served lists are scored (NDCG@10, HR@10; a held-out item the user had already
    seen is no target, as in ``evaluate_ranking``);
  * the peers on the identical split, ranked by recserve's evaluation (seen items
    excluded, full catalogue): implicit ALS tuned with Optuna over factors,
    regularization, iterations and alpha on a validation split carved from the train part
    the same way, with the job's budget (``train_budget_seconds`` when the server has that
    setting, else the job's own wall time); and recserve's EASE at its best lambda on a
    grid, chosen on the test part (an upper bound for EASE, as the issue's figure);
  * the ratio of served NDCG@10 to the better peer, the job's wall time and the chosen
    champion of ``recommended``.

``--scale`` runs the default job (``recserve train``, a subprocess) on a synthetic
catalogue of 1M items and 2M Zipf-distributed events over 100k users written straight
into a SQLite store, and prints its wall time, peak RSS and champions.

    .venv/bin/python benchmarks/autotrain.py [--datasets movielens-100k,...] [--budget S]
        [--ease-grid 10,50,100]  (the EASE peer's lambdas; default: the grid below)
    .venv/bin/python benchmarks/autotrain.py --scale [--items 1000000 --events 2000000]
        [--data-dir DIR]  (keeps the store in DIR and reuses it: writing it takes minutes)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

import httpx
import numpy as np
from pydantic import BaseModel

import peers
from processes import free_port, process, wait_until  # sibling modules
from recserve.algorithms import create
from recserve.config import Settings, default_feedback_types
from recserve.data import Dataset
from recserve.data.dataset import POSITIVE
from recserve.evaluation import Split, evaluate_ranking
from recserve.evaluation.metrics import accuracy_metrics
from recserve.evaluation.protocol import ranking_targets
from recserve.evaluation.splitters import latest_per_user
from recserve.evaluation.tuning import tune
from recserve.importers.core import source_parts
from recserve.importers.datasets import dataset_from_parts, resolve_dataset
from recserve.importers.parts import BadRow, rows_part
from recserve.schemas import FeedbackCreate, ItemCreate, RelationCreate, UserCreate

DATASETS = ("movielens-100k", "movielens-latest-small", "lastfm-2k")
NO_TIMESTAMPS = frozenset({"lastfm-2k"})  # every play carries the importer's one timestamp
SEED = 0
EASE_GRID = (10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)
BATCH = 5_000  # rows per HTTP write
SCHEMAS: dict[str, type[BaseModel]] = {
    "items": ItemCreate,
    "users": UserCreate,
    "relations": RelationCreate,
    "events": FeedbackCreate,
}
WRITE_PATHS = {
    "items": "/v1/items",
    "users": "/v1/users",
    "relations": "/v1/relations",
    "events": "/v1/feedback",
}
METRICS = ("ndcg", "hit_rate")


# -- the data and its split -------------------------------------------------------------------


def read_rows(name: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the data set through the API's schema models, as JSON-ready dicts;
    events with an ``event_id`` seen before are dropped (the store would skip them)."""
    rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SCHEMAS}
    seen: set[str] = set()
    for part in source_parts(resolve_dataset(name), name, None):
        for _, raw in part.read():
            if isinstance(raw, BadRow):
                raise ValueError(f"{part.name}: {raw.message}")
            row = SCHEMAS[part.kind].model_validate(raw).model_dump(mode="json", exclude_none=True)
            if part.kind == "events" and row.get("event_id") is not None:
                if row["event_id"] in seen:
                    continue
                seen.add(row["event_id"])
            rows[part.kind].append(row)
    return rows


def as_dataset(rows: dict[str, list[dict[str, Any]]]) -> Dataset:
    """The snapshot a store holding ``rows`` gives (events in the same order as the rows)."""
    parts = [rows_part(kind, kind, rows[kind]) for kind in SCHEMAS]  # type: ignore[arg-type]
    return dataset_from_parts(parts, default_feedback_types(), source="benchmark")


def holdout_mask(data: Dataset, randomly: bool, seed: int = SEED) -> np.ndarray:
    """Per user with two or more positive events, the last one (a seeded random one when
    ``randomly``: data without time)."""
    if randomly:
        order = np.random.default_rng(seed).random(len(data))
        data = dataclasses.replace(data, timestamp=order, _cache={})
    return latest_per_user(data, data.kind == POSITIVE, lambda count: np.minimum(1, count - 1))


def split_of(data: Dataset, randomly: bool) -> tuple[Split, np.ndarray]:
    test = holdout_mask(data, randomly)
    name = "random_one_per_user" if randomly else "leave_last_out"
    return Split(data.subset(~test), data.subset(test), name), test


def describe(randomly: bool) -> str:
    if randomly:
        return "one seeded random positive per user held out (the file has no timestamps)"
    return "per-user temporal leave-last-out (each user's last positive event held out)"


# -- the peers ----------------------------------------------------------------------------------


def tuned_als(split: Split, randomly: bool, budget: float) -> tuple[dict[str, float], str]:
    """implicit ALS tuned with Optuna for ``budget`` seconds on a validation split carved
    from the train part like the test split, then fitted on the train part."""
    result = tune(
        peers.ImplicitPeer,
        split.train,
        lambda train: split_of(train, randomly)[0],
        budget_seconds=budget,
        max_trials=10_000,
        seed=SEED,
    )
    model = peers.ImplicitPeer(**result.best_params).fit(split.train)
    metrics = evaluate_ranking(model, split, k=10, metrics=METRICS)
    params = ", ".join(f"{k}={_short(v)}" for k, v in result.best_params.items()) or "defaults"
    return metrics, f"{len(result.trials) + 1} trials in {result.seconds:.0f}s: {params}"


def best_ease(split: Split, grid: Sequence[float] = EASE_GRID) -> tuple[dict[str, float], str]:
    """recserve's EASE at the lambda of ``grid`` that scores best on the test part."""
    best: tuple[dict[str, float], float] | None = None
    for lam in grid:
        model = create("ease", regularization=lam, max_items=200_000).fit(split.train)
        metrics = evaluate_ranking(model, split, k=10, metrics=METRICS)
        if best is None or metrics["ndcg@10"] > best[0]["ndcg@10"]:
            best = (metrics, lam)
    assert best is not None
    return best[0], f"lambda={best[1]:g} (grid {', '.join(f'{g:g}' for g in grid)})"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# -- the served path ---------------------------------------------------------------------------


def post_rows(client: httpx.Client, kind: str, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        answer = client.post(WRITE_PATHS[kind], json=list(rows[start : start + BATCH]))
        answer.raise_for_status()


def wait_for_job(client: httpx.Client, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last_step = None
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job.get("step") != last_step:
            last_step = job.get("step")
            print(f"  job {job.get('progress', 0):5.0%} {last_step}", flush=True)
        if job["status"] in ("succeeded", "failed"):
            return dict(job)
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} still {job['status']} after {timeout:.0f}s")
        time.sleep(1.0)


def wait_serving(client: httpx.Client, scenario: str, timeout: float = 300) -> str:
    """Until this replica serves the registry's champion of ``scenario``; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        for entry in client.get("/v1/scenarios").json()["data"]:
            champion = entry["champion"]
            if entry["scenario"] == scenario and champion and entry["serving"] == champion:
                return str(champion)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{scenario}: the champion is not served after {timeout:.0f}s")
        time.sleep(0.5)


def served_lists(client: httpx.Client, data: Dataset, users: Iterable[int]) -> np.ndarray:
    """Top-10 item indices served over HTTP for each dataset user index (-1 padded)."""
    lists = []
    for user in users:
        answer = client.get(f"/v1/users/{data.users.ids[user]}/recommendations", params={"n": 10})
        answer.raise_for_status()
        ids = [entry["item_id"] for entry in answer.json()["items"]]
        row = data.items.index(np.array(ids, dtype=object)).astype(np.int64)
        lists.append(np.pad(row, (0, 10 - len(row)), constant_values=-1))
    return np.array(lists, dtype=np.int64).reshape(-1, 10)


def serve_and_train(
    rows: dict[str, list[dict[str, Any]]],
    train_events: list[dict[str, Any]],
    data: Dataset,
    split: Split,
    budget: float | None,
    workdir: Path,
) -> dict[str, Any]:
    """Start the server, import through the API, train with ``{}``, ask for every held-out
    user's list; returns the served metrics and what the job did."""
    env = {
        **os.environ,
        "RECSERVE_LOG_LEVEL": "WARNING",
        "RECSERVE_MODEL_POLL_SECONDS": "0.5",
        "OPENBLAS_NUM_THREADS": "1",
    }
    if budget is not None and "train_budget_seconds" in Settings.model_fields:
        env["RECSERVE_TRAIN_BUDGET_SECONDS"] = str(budget)
    port = free_port()
    command = [sys.executable, "-m", "recserve.cli", "--data-dir", str(workdir / "data")]
    log = workdir / "server.log"
    with process([*command, "serve", "--port", str(port)], log, env) as server:
        base = f"http://127.0.0.1:{port}"
        wait_until(base + "/health", server, log)
        with httpx.Client(base_url=base, timeout=600) as client:
            start = time.perf_counter()
            for kind in ("items", "users", "relations"):
                post_rows(client, kind, rows[kind])
            post_rows(client, "events", train_events)
            imported = time.perf_counter() - start
            answer = client.post("/v1/models/train", json={})
            answer.raise_for_status()
            job = wait_for_job(client, answer.json()["job_id"], timeout=4 * 3600)
            if job["status"] != "succeeded":
                raise RuntimeError(f"the training job failed: {job.get('error')}")
            champion = wait_serving(client, "recommended")
            targets = ranking_targets(split)
            lists = served_lists(client, data, targets.users)
    metrics = accuracy_metrics(lists, targets.relevant, (10,), METRICS)
    results = job.get("results") or {}
    name = champion.split("/", 1)[0]
    family = (results.get("models") or {}).get(name, {}).get("family", name)
    return {
        "metrics": {**metrics, "users_evaluated": len(targets.users)},
        "job_seconds": (job["finished_at"] or 0.0) - (job["started_at"] or 0.0),
        "import_seconds": imported,
        "champion": champion,
        "family": family,
        "job": results,
    }


def bench_dataset(name: str, budget: float | None, ease_grid: Sequence[float] = EASE_GRID) -> None:
    randomly = name in NO_TIMESTAMPS
    rows = read_rows(name)
    data = as_dataset(rows)
    split, test = split_of(data, randomly)
    train_events = [row for row, held in zip(rows["events"], test, strict=True) if not held]
    print(
        f"\n== {name}: {data.n_users:,} users, {data.n_items:,} items, "
        f"{len(train_events):,} train events imported, {int(test.sum()):,} held out ==\n"
        f"split: {describe(randomly)}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="recserve-autotrain-") as tmp:
        served = serve_and_train(rows, train_events, data, split, budget, Path(tmp))
    als_budget = budget
    if als_budget is None:
        default = Settings.model_fields.get("train_budget_seconds")
        als_budget = float(default.default) if default is not None else served["job_seconds"]
    als, als_note = tuned_als(split, randomly, als_budget)
    ease, ease_note = best_ease(split, ease_grid)
    better = max(als["ndcg@10"], ease["ndcg@10"])
    print(f"{'':38s} NDCG@10   HR@10", flush=True)
    m = served["metrics"]
    print(
        f"{'served (POST /v1/models/train {})':38s} {m['ndcg@10']:.4f}  {m['hit_rate@10']:.4f}"
        f"   {m['users_evaluated']} users over HTTP"
    )
    print(f"{'implicit ALS tuned':38s} {als['ndcg@10']:.4f}  {als['hit_rate@10']:.4f}   {als_note}")
    print(
        f"{'EASE, best lambda':38s} {ease['ndcg@10']:.4f}  {ease['hit_rate@10']:.4f}   {ease_note}"
    )
    print(
        f"served / better peer: {m['ndcg@10'] / better:.2f}x; job {served['job_seconds']:.1f}s "
        f"(import {served['import_seconds']:.1f}s); champion of recommended: "
        f"{served['champion']} (family {served['family']}); ALS budget {als_budget:.0f}s",
        flush=True,
    )
    models = (served["job"].get("models") or {}).values()
    refit = sum(float(info.get("refit_seconds") or 0.0) for info in models)
    print(
        f"job {served['job_seconds']:.1f}s: {served['job_seconds'] - refit:.1f}s before the "
        f"final refits on all data (budget {als_budget:.0f}s) + {refit:.1f}s refits",
        flush=True,
    )


# -- --scale -----------------------------------------------------------------------------------


def write_scale_store(data_dir: Path, n_items: int, n_events: int, n_users: int) -> float:
    """A SQLite store with ``n_items`` items and ``n_events`` click events: items by a Zipf
    law (exponent 1) over a shuffled catalogue, users by a milder one (0.5), timestamps
    spread over 90 days. Returns the seconds it took."""
    from recserve.store import Store

    start = time.perf_counter()
    rng = np.random.default_rng(SEED)
    item_p = 1.0 / np.arange(1, n_items + 1)
    item = rng.permutation(n_items)[rng.choice(n_items, n_events, p=item_p / item_p.sum())]
    user_p = 1.0 / np.arange(1, n_users + 1) ** 0.5
    user = rng.choice(n_users, n_events, p=user_p / user_p.sum())
    when = 1_700_000_000.0 + np.sort(rng.random(n_events)) * 90 * 86_400
    store = Store.open(f"sqlite:///{(data_dir / 'recserve.sqlite').resolve()}")
    try:
        for lo in range(0, n_items, 50_000):
            store.items.upsert([{"item_id": f"i{j}"} for j in range(lo, min(lo + 50_000, n_items))])
        for lo in range(0, n_events, 50_000):
            hi = min(lo + 50_000, n_events)
            store.feedback.add(
                [
                    {"event_id": f"e{k}", "user_id": f"u{user[k]}", "item_id": f"i{item[k]}"}
                    | {"type": "click", "timestamp": float(when[k])}
                    for k in range(lo, hi)
                ]
            )
    finally:
        store.close()
    return time.perf_counter() - start


def bench_scale(
    n_items: int, n_events: int, n_users: int, budget: float | None, keep: Path | None
) -> None:
    print(f"\n== scale: {n_items:,} items, {n_events:,} Zipf events, {n_users:,} users ==")
    with tempfile.TemporaryDirectory(prefix="recserve-autotrain-scale-") as tmp:
        data_dir = keep or Path(tmp) / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        if (data_dir / "recserve.sqlite").exists():
            print(f"store reused from {data_dir}")
        else:
            seconds = write_scale_store(data_dir, n_items, n_events, n_users)
            print(f"store written in {seconds:.0f}s")
        shutil.rmtree(data_dir / "models", ignore_errors=True)  # the first job, every time
        run_scale_job(data_dir, budget)


def run_scale_job(data_dir: Path, budget: float | None) -> None:
    """``recserve train`` in a subprocess (its peak RSS is its own), then the champions."""
    from recserve.registry import ModelRegistry

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "RECSERVE_LOG_LEVEL": "WARNING"}
    if budget is not None and "train_budget_seconds" in Settings.model_fields:
        env["RECSERVE_TRAIN_BUDGET_SECONDS"] = str(budget)
    command = [sys.executable, "-m", "recserve.cli", "--data-dir", str(data_dir), "train"]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(done.stdout[-4000:])
    if done.returncode != 0:
        print(done.stderr[-4000:])
        raise SystemExit(f"recserve train exited with {done.returncode}")
    champions = ModelRegistry(data_dir / "models").champions()
    print(f"job wall time {wall:.1f}s (recserve train, one process), peak RSS {peak_mb:,.0f} MB")
    print("champions: " + ", ".join(f"{s}={ref}" for s, ref in sorted(champions.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument(
        "--budget",
        type=float,
        help="train_budget_seconds for the job (when the server has that setting) and the "
        "ALS tuning budget; default: the setting's default, else the job's wall time",
    )
    parser.add_argument(
        "--ease-grid",
        type=lambda text: [float(v) for v in text.split(",")],
        default=list(EASE_GRID),
        help="EASE peer's lambdas (each a fit: minutes apiece on Last.fm's 17,632 items)",
    )
    parser.add_argument("--scale", action="store_true", help="only the 1M-item default job")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="--scale: keep the synthetic store here and reuse it on the next run",
    )
    args = parser.parse_args()
    if args.scale:
        bench_scale(args.items, args.events, args.users, args.budget, args.data_dir)
        return
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        bench_dataset(name, args.budget, args.ease_grid)


if __name__ == "__main__":
    main()
