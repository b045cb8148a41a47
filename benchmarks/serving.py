"""Serving benchmark: the real server, with each family the default training can promote as
the ``recommended`` champion, against a bare FastAPI endpoint, in one run.

For each catalogue size a temporary data folder gets a synthetic catalogue: every item in
the SQLite store, users with a few likes each, and one model per family in ``--families``:

  * ``als``: clustered random 64-dim factors set directly (as trained factors are: users and
    items scattered around shared topics), also promoted as ``similar_items``;
  * ``popular`` (also the ``popular`` champion), ``item_knn`` (cosine, 100 neighbours), and the
    sequential ``sasrec`` and ``gru4rec`` (one epoch: the benchmark measures serving, not
    accuracy) fitted on the store's events;
  * ``ease`` on a catalogue of its cap (``max_items``, 20,000 by default: its dense item x item
    matrix is O(items^2)) when the size is above it, with that matrix set directly from the
    topics (a fit at the cap takes O(items^3));
  * ``hybrid``: what the default training promotes where SASRec and a classic family both
    do well (docs/training.md): the rank fusion of the ``sasrec`` above and ``als``, 1:1.

Then, per family, a fresh ``recserve serve`` (uvicorn, one worker) in a subprocess, so every
family starts with no user in memory:

  * with ``--cold``, every user's first request (each user once, 8 connections): the history
    is read from the store; compared with the warm p99 below (target: at most 2x);
  * the closed loop against the server and, just before, against a bare FastAPI app in
    another subprocess answering the same path with a JSON list of the same size (10 items
    with scores, a model name and an id) from a sync endpoint like the real route
    (``--bare-async`` for an ``async def`` one): ``--connections`` keep-alive connections,
    each sending the next request as soon as the previous answer is read, random known
    users, a warm-up then a timed phase; the load generator is a third process;
  * one row per family: throughput, its ratio to the bare endpoint's, p50, p99, server CPU
    per request, and RSS.

With ``als`` among the families, in this process: ANN recall@10 of the served path against
exact top-10, the index build time, and the in-process cost of one ``ServingEngine.recommend``
with ANN and exact (``--profile``: where the time goes); the same for similar items.

Targets (DESIGN.md section 10, issue 15): throughput >= 0.8x the bare endpoint's and p99 <=
10 ms at 100k items for every family; first requests p99 <= 2x the warm p99 for >= 20,000
users; ANN recall@10 >= 0.95; 1M x 64 within 0.5 GB above idle.

    .venv/bin/python benchmarks/serving.py [--quick] [--sizes 100000,1000000]
        [--families popular,item_knn,ease,als,sasrec,gru4rec,hybrid] [--cold]
        [--connections 8] [--seconds 10] [--users 20000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from processes import cpu_seconds, free_port, process, rss_mb, wait_until  # a sibling module

DIM = 64
TOPICS = 1000
LIKES_PER_USER = 20
REQUEST_PATH = "/v1/users/{user}/recommendations?n=10"
BARE_ITEMS = [{"item_id": f"i{k:07d}", "score": 1.0 - k / 100} for k in range(10)]


# -- the synthetic catalogue -------------------------------------------------------------------


def item_id(j: int) -> str:
    return f"i{j:07d}"


def user_id(u: int) -> str:
    return f"u{u:06d}"


FAMILIES = ("popular", "item_knn", "ease", "als", "sasrec", "gru4rec", "hybrid")
# fitted on the benchmark's events: the models' own defaults, and one epoch for the neural ones
FITTED = {
    "popular": {},
    "item_knn": {"similarity": "cosine", "neighbours": 100},
    "sasrec": {"epochs": 1, "validation_users": 0, "threads": 1},
    "gru4rec": {"epochs": 1, "validation_users": 0, "threads": 1},
}


def ease_cap() -> int:
    """The most items EASE serves (its ``max_items`` default)."""
    from recserve.algorithms.ease import EASEConfig

    return EASEConfig().max_items


def build_catalogue(
    data_dir: Path, n_items: int, n_users: int, families: tuple[str, ...], seed: int = 0
) -> dict[str, Any]:
    """Store (items, users' likes) and registry (ALS, popular and ``families``; nothing
    promoted yet). Returns each family's version."""
    from recserve.algorithms import create
    from recserve.algorithms.factor_base import FactorModel
    from recserve.algorithms.hybrid import Hybrid
    from recserve.config import default_feedback_types
    from recserve.data import Dataset, Vocabulary
    from recserve.registry import ModelRegistry
    from recserve.store import Store

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    centres = rng.normal(size=(TOPICS, DIM)).astype(np.float32)
    item_topic = rng.integers(0, TOPICS, n_items)
    user_topic = rng.integers(0, TOPICS, n_users)
    items = np.empty((n_items, DIM), dtype=np.float32)
    for start in range(0, n_items, 100_000):  # bounded temporaries at 1M
        part = slice(start, min(start + 100_000, n_items))
        noise = rng.standard_normal((part.stop - part.start, DIM), dtype=np.float32)
        items[part] = 0.1 * (centres[item_topic[part]] + noise)
    users = centres[user_topic] + 0.5 * rng.standard_normal((n_users, DIM), dtype=np.float32)

    store = Store.open(f"sqlite:///{(data_dir / 'recserve.sqlite').resolve()}")
    for start in range(0, n_items, 50_000):
        store.items.upsert(
            [{"item_id": item_id(j)} for j in range(start, min(start + 50_000, n_items))]
        )
    by_topic = np.argsort(item_topic, kind="stable")
    cuts = np.searchsorted(item_topic[by_topic], np.arange(TOPICS + 1))
    events: list[dict[str, Any]] = []
    t, stored = 1_700_000_000.0, 0
    for u in range(n_users):  # likes among the items of the user's topic
        pool = by_topic[cuts[user_topic[u]] : cuts[user_topic[u] + 1]]
        for j in rng.choice(pool, min(LIKES_PER_USER, len(pool)), replace=False):
            t, stored = t + 1.0, stored + 1
            events.append(
                {"event_id": f"e{stored}", "user_id": user_id(u), "item_id": item_id(j)}
                | {"type": "like", "timestamp": t}
            )
        if len(events) >= 50_000:
            store.feedback.add(events)
            events = []
    store.feedback.add(events)

    registry = ModelRegistry(data_dir / "models")
    versions: dict[str, Any] = {}
    als = create("als", factors=DIM)
    assert isinstance(als, FactorModel)
    # factors set directly: the benchmark measures serving, not training
    als.users = Vocabulary([user_id(u) for u in range(n_users)])
    als.items = Vocabulary([item_id(j) for j in range(n_items)])
    als._set_factors(users, items, np.ones(n_users, bool), np.ones(n_items, bool))
    versions["als"] = registry.register("als", als).version
    data = Dataset.from_store(store, default_feedback_types())
    fitted: dict[str, Any] = {"als": als}
    for family in ("popular", *families):
        if family in versions:
            continue
        start = time.perf_counter()
        if family == "ease":
            model = topic_ease(data, item_topic)
        elif family == "hybrid":  # the fusion the model search promotes (from_fitted)
            if "sasrec" not in fitted:
                fitted["sasrec"] = create("sasrec", **FITTED["sasrec"]).fit(data)
            assert als.users == data.users and als.items == data.items
            model = Hybrid.from_fitted([fitted["sasrec"], als], data)
        else:
            model = fitted[family] = create(family, **FITTED[family]).fit(data)
        versions[family] = registry.register(family, model).version
        print(f"  {family} ready in {time.perf_counter() - start:.0f}s", flush=True)
    store.close()
    return {"seconds": time.perf_counter() - t0, "events": len(data), "versions": versions}


def topic_ease(data: Any, item_topic: np.ndarray) -> Any:
    """An EASE model whose B links the items of each topic, set directly (a fit inverts a
    dense items x items matrix: O(items^3), minutes at the cap; serving costs the same)."""
    from recserve.algorithms import create
    from recserve.algorithms.base import csr_state

    n_items = data.n_items
    topics = item_topic[np.array([int(i[1:]) for i in data.items.ids.tolist()])]
    order = np.argsort(topics, kind="stable")
    cuts = np.searchsorted(topics[order], np.arange(topics.max() + 2))
    weights = np.zeros((n_items, n_items), dtype=np.float32)
    rng = np.random.default_rng(1)
    for topic in range(len(cuts) - 1):
        block = order[cuts[topic] : cuts[topic + 1]]
        weights[np.ix_(block, block)] = rng.uniform(0.01, 0.1, (len(block), len(block)))
    weights[np.diag_indices(n_items)] = 0.0
    matrix = data.positive_matrix().astype(np.float32)
    ease = create("ease")
    ease.users, ease.items = data.users, data.items
    ease._restore(  # the state a fit leaves, through the loader's own path
        {
            "weights": weights,
            "servable_items": np.bincount(matrix.indices, minlength=n_items) > 0,
            **csr_state("history", matrix),
        }
    )
    return ease


def promote(data_dir: Path, versions: dict[str, Any], family: str) -> None:
    from recserve.registry import ModelRegistry

    registry = ModelRegistry(data_dir / "models")
    registry.promote("popular", "popular", versions["popular"])
    registry.promote("similar_items", "als", versions["als"])  # a second (cosine) index
    registry.promote("recommended", family, versions[family])


# -- processes ---------------------------------------------------------------------------------


def wait_served(
    base: str, scenarios: tuple[str, ...], proc: subprocess.Popen[bytes], log: Path
) -> None:
    """Until ``/ready`` reports a model serving each of ``scenarios`` (it answers 503 while
    scenarios the benchmark does not promote, such as similar items, have none)."""
    deadline = time.monotonic() + 900
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        body = httpx.get(base + "/ready", timeout=120).json()
        ready = set(body.get("models") or {}) | {
            d.get("scenario") for d in body.get("details") or [] if d.get("ready")
        }
        if set(scenarios) <= ready:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{scenarios} not served:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@contextlib.contextmanager
def memory_guard(proc: subprocess.Popen[bytes], limit_mb: float) -> Iterator[list[float]]:
    """Stop ``proc`` if its RSS passes ``limit_mb`` (the machine is shared); yields a list
    that holds the peak RSS seen (sampled every 0.5 s)."""
    peak = [0.0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.5) and proc.poll() is None:
            with contextlib.suppress(OSError, RuntimeError):
                peak[0] = max(peak[0], rss_mb(proc.pid))
                if peak[0] > limit_mb:
                    print(f"server RSS {peak[0]:.0f} MB > {limit_mb:.0f} MB: stopped", flush=True)
                    proc.kill()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def run_bare(port: int, use_async: bool) -> None:
    """The peer: one FastAPI endpoint on the same path, a fixed 10-item JSON answer."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    path = "/v1/users/{user_id}/recommendations"

    def body(user_id: str) -> dict[str, Any]:
        return {"items": BARE_ITEMS, "model": "bare", "recommendation_id": user_id}

    if use_async:

        @app.get(path)
        async def recommend_async(user_id: str, n: int = 10) -> dict[str, Any]:
            return body(user_id)
    else:

        @app.get(path)
        def recommend(user_id: str, n: int = 10) -> dict[str, Any]:
            return body(user_id)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- the load generator (its own process) ----------------------------------------------------


async def _connection(
    port: int,
    path: str,
    users: int,
    warm_until: float,
    stop_at: float,
    out: list[float],
    errors: list[int],
    sweep: list[int] | None = None,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rnd = random.Random(port ^ id(out))
    while True:
        start = time.perf_counter()
        if start >= stop_at:
            break
        if sweep is not None:  # every user once, in turn
            if not sweep:
                break
            target = path.format(user=user_id(sweep.pop()))
        else:
            target = path.format(user=user_id(rnd.randrange(users)))
        writer.write(f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        end = time.perf_counter()
        if start >= warm_until:
            out.append(end - start)
            if status != 200:
                errors.append(status)
    writer.close()


async def _drive(
    port: int,
    path: str,
    users: int,
    connections: int,
    warmup: float,
    seconds: float,
    sweep: bool = False,
) -> dict:
    """The closed loop; ``sweep``: each user once (no warm-up, until all are done)."""
    now = time.perf_counter()
    warm_until, stop_at = now + warmup, now + warmup + seconds
    pending = list(range(users))[::-1] if sweep else None
    if sweep:
        warm_until, stop_at = now, np.inf
    latencies: list[float] = []
    errors: list[int] = []
    await asyncio.gather(
        *(
            _connection(port, path, users, warm_until, stop_at, latencies, errors, pending)
            for _ in range(connections)
        )
    )
    if sweep:
        seconds = time.perf_counter() - now
    lat = np.array(latencies) * 1000
    return {
        "requests": len(lat),
        "errors": len(errors),
        "rps": len(lat) / seconds,
        "p50": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        "p99": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
    }


def load(
    port: int, users: int, connections: int, warmup: float, seconds: float, sweep: bool = False
) -> dict:
    """Run the load generator in a separate process; its figures."""
    result = subprocess.run(
        [
            *(sys.executable, __file__, "--role", "load", "--port", str(port)),
            *("--users", str(users), "--connections", str(connections)),
            *("--warmup", str(warmup), "--seconds", str(seconds)),
            *(["--sweep"] if sweep else []),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- in-process measurements -----------------------------------------------------------------


def in_process(data_dir: Path, users: int, profile: bool, min_items: int) -> dict[str, Any]:
    """ANN recall@10 against exact, index build time, and one request's cost, in-process."""
    from recserve.config import default_feedback_types
    from recserve.registry import ModelRegistry
    from recserve.serving import ServingEngine
    from recserve.serving.history import HistoryCache
    from recserve.serving.retrieval import IvfIndex, attach_neighbours, attach_retrieval
    from recserve.store import Store

    store = Store.open(f"sqlite:///{(data_dir / 'recserve.sqlite').resolve()}")
    engine = ServingEngine(
        store,
        ModelRegistry(data_dir / "models"),
        default_feedback_types(),
        histories=HistoryCache(100_000),  # as the server: live histories cached
        ann_min_items=min_items,
    )
    engine.refresh()
    model: Any = engine.served()["recommended"].model
    out: dict[str, Any] = {}
    model.attach_candidates(None)  # built again, to time it
    start = time.perf_counter()
    assert attach_retrieval(model, min_items)  # as the server does it: nprobe calibrated
    out["build_s"] = time.perf_counter() - start
    index = model.candidate_index
    assert isinstance(index, IvfIndex)
    out["cells"], out["nprobe"] = index.cells, index.nprobe

    rng = np.random.default_rng(1)
    sample = [user_id(u) for u in rng.choice(users, min(users, 300), replace=False)]

    def timed(ids: list[str]) -> tuple[list[list[str]], float]:
        lists, start = [], time.perf_counter()
        for uid in ids:
            lists.append(engine.recommend(uid, 10).item_ids)
        return lists, (time.perf_counter() - start) / len(ids) * 1000

    timed(sample)  # first requests build lazy state (item catalogue, cached histories)
    ann, out["ann_ms"] = timed(sample)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        timed(sample[:200])
        profiler.disable()
        print("\nwhere one request's time goes (ServingEngine.recommend, ANN, cumulative):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(22)
    model.attach_candidates(None)
    exact, out["exact_ms"] = timed(sample)
    model.attach_candidates(index)
    out["recall"] = _recall(ann, exact)

    # similar items: the champion's second index, over unit-length item factors (cosine)
    model.attach_neighbours(None)
    start = time.perf_counter()
    assert attach_neighbours(model, min_items)
    out["neighbours_build_s"] = time.perf_counter() - start
    neighbours = model.neighbour_index
    assert isinstance(neighbours, IvfIndex)
    out["neighbours_nprobe"] = neighbours.nprobe
    anchors = [item_id(int(j)) for j in rng.choice(model.n_items, 100, replace=False)]

    def similar(ids: list[str]) -> tuple[list[list[str]], float]:
        lists, start = [], time.perf_counter()
        for anchor in ids:
            lists.append(engine.similar_items(anchor, 10).item_ids)
        return lists, (time.perf_counter() - start) / len(ids) * 1000

    similar(anchors[:5])
    ann, out["similar_ann_ms"] = similar(anchors)
    model.attach_neighbours(None)
    exact, out["similar_exact_ms"] = similar(anchors)
    out["similar_recall"] = _recall(ann, exact)
    store.close()
    return out


def _recall(approximate: list[list[str]], exact: list[list[str]]) -> float:
    """Mean recall@10 of the approximate lists against the exact ones."""
    pairs = zip(approximate, exact, strict=True)
    return float(np.mean([len(set(a) & set(e)) / max(1, len(e)) for a, e in pairs]))


# -- the run -----------------------------------------------------------------------------------


def bench_size(n_items: int, args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"recserve-serving-{n_items}-"))
    try:
        return bench_in(root, n_items, args)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def bench_in(root: Path, n_items: int, args: argparse.Namespace) -> dict[str, Any]:
    families = tuple(args.families.split(","))
    capped = "ease" in families and n_items > ease_cap()  # EASE gets a catalogue of its cap
    folders: dict[str, tuple[Path, dict[str, Any]]] = {}
    (root / "data").mkdir()
    print(f"\n== {n_items:,} items x {DIM} dims, {args.users:,} users ==", flush=True)
    wanted = tuple(f for f in families if not (capped and f == "ease"))
    built = build_catalogue(root / "data", n_items, args.users, wanted)
    folders[""] = (root / "data", built)
    print(f"catalogue built in {built['seconds']:.0f}s ({built['events']:,} events)", flush=True)
    if capped:
        (root / "ease").mkdir()
        print(f"ease: its own catalogue of {ease_cap():,} items (max_items)", flush=True)
        built = build_catalogue(root / "ease", ease_cap(), args.users, ("ease",))
        folders["ease"] = (root / "ease", built)
    env = {
        **os.environ,
        "RECSERVE_MODEL_POLL_SECONDS": "0.5",
        "RECSERVE_LOG_LEVEL": "WARNING",
        "RECSERVE_ANN_MIN_ITEMS": str(args.ann_min_items),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    result: dict[str, Any] = {"items": n_items, "rows": {}}
    bare_port = free_port()
    bare_cmd = [sys.executable, __file__, "--role", "bare", "--port", str(bare_port)]
    with process(
        bare_cmd + (["--bare-async"] if args.bare_async else []), root / "bare.log", env
    ) as bare:
        wait_until(f"http://127.0.0.1:{bare_port}/v1/users/x/recommendations", bare, root / "b")
        for family in families:
            data_dir, built = folders["ease" if capped and family == "ease" else ""]
            row = bench_family(family, data_dir, built["versions"], args, env, root)
            cpu = cpu_seconds(bare.pid)  # the bare endpoint just after: the same machine state
            row["bare"] = load(bare_port, args.users, args.connections, args.warmup, args.seconds)
            served = row["bare"]["requests"] * (args.warmup + args.seconds) / args.seconds
            row["bare"]["cpu_ms"] = (cpu_seconds(bare.pid) - cpu) / max(1.0, served) * 1000
            row["items"] = len_items(data_dir)
            result["rows"][family] = row
            report_row(family, row)
    report(result, args)
    if "als" in families and n_items >= args.ann_min_items:  # the size with ANN indexes
        data_dir, built = folders[""]
        promote(data_dir, built["versions"], "als")
        result |= in_process(data_dir, args.users, args.profile, args.ann_min_items)
        report_ann(result)
    return result


def len_items(data_dir: Path) -> int:
    from recserve.store import Store

    store = Store.open(f"sqlite:///{(data_dir / 'recserve.sqlite').resolve()}")
    try:
        return sum(len(keys) for keys in store.items.key_chunks())
    finally:
        store.close()


def bench_family(
    family: str,
    data_dir: Path,
    versions: dict[str, Any],
    args: argparse.Namespace,
    env: dict[str, str],
    root: Path,
) -> dict[str, Any]:
    """A fresh server with ``family`` as the recommended champion (no user in memory): the
    first request of every user (``--cold``), then the closed loop."""
    row: dict[str, Any] = {}
    from recserve.registry.registry import CHAMPIONS

    # nothing promoted when the server starts: its idle memory, then this family's load
    (data_dir / "models" / CHAMPIONS).unlink(missing_ok=True)
    port = free_port()
    log = root / f"server-{family}.log"
    server_cmd = [sys.executable, "-m", "recserve.cli", "--data-dir", str(data_dir), "serve"]
    with (
        process([*server_cmd, "--port", str(port)], log, env) as server,
        memory_guard(server, args.max_rss_mb) as peak,
    ):
        base = f"http://127.0.0.1:{port}"
        wait_until(base + "/health", server, log)
        time.sleep(1.0)
        row["rss_idle"] = rss_mb(server.pid)
        start = time.perf_counter()
        promote(data_dir, versions, family)
        wait_served(base, ("recommended", "similar_items", "popular"), server, log)
        wanted = f"{family}/{versions[family]}"
        while (
            httpx.get(base + "/ready", timeout=120).json().get("models", {}).get("recommended")
            != wanted
        ):  # an earlier champion of the folder may answer until the poll
            time.sleep(0.2)
        row["load_s"] = time.perf_counter() - start
        row["rss_loaded"] = rss_mb(server.pid)
        body = httpx.get(f"{base}/v1/users/{user_id(0)}/recommendations?n=10").json()
        assert len(body["items"]) == 10 and body["model"] == wanted, body
        if args.cold:  # each user once: their first request reads the history from the store
            cpu = cpu_seconds(server.pid)
            row["cold"] = load(port, args.users, args.connections, 0, 0, sweep=True)
            row["cold"]["cpu_ms"] = (
                (cpu_seconds(server.pid) - cpu) / max(1, row["cold"]["requests"]) * 1000
            )
        cpu = cpu_seconds(server.pid)
        row["server"] = load(port, args.users, args.connections, args.warmup, args.seconds)
        served = row["server"]["requests"] * (args.warmup + args.seconds) / args.seconds
        row["server"]["cpu_ms"] = (cpu_seconds(server.pid) - cpu) / max(1.0, served) * 1000
        row["rss_serving"] = rss_mb(server.pid)
        row["rss_peak"] = peak[0]
    return row


def report_row(family: str, r: dict[str, Any]) -> None:
    s, b = r["server"], r["bare"]
    line = (
        f"{family:<9} {r['items']:>9,} {s['rps']:7.0f} {b['rps']:7.0f} {s['rps'] / b['rps']:6.2f}"
        f" {s['p50']:7.2f} {s['p99']:7.2f} {b['p99']:7.2f} {s['cpu_ms']:6.3f} {b['cpu_ms']:6.3f}"
        f" {s['errors']:4d}"
    )
    if "cold" in r:
        c = r["cold"]
        line += (
            f"   {c['requests']:>6,} {c['p50']:7.2f} {c['p99']:7.2f} {c['p99'] / s['p99']:5.2f}"
            f" {c['cpu_ms']:6.3f} {c['errors']:4d}"
        )
    print(line, flush=True)


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n{'family':<9} {'items':>9} {'req/s':>7} {'bare':>7} {'ratio':>6} {'p50':>7} "
        f"{'p99':>7} {'bare99':>7} {'cpu':>6} {'bcpu':>6} {'err':>4}"
        + (
            f"   {'first':>6} {'c.p50':>7} {'c.p99':>7} {'c/w99':>5} {'c.cpu':>6} {'err':>4}"
            if args.cold
            else ""
        )
    )
    for family, row in result["rows"].items():
        report_row(family, row)
    print(
        "req/s and bare: recserve and the bare endpoint (measured just after it); ratio: their"
        " quotient; p50/p99/bare99 in ms; cpu/bcpu: server CPU ms per request"
        + (
            "; first: each user's first request (history read from the store), c.p50/c.p99 in"
            " ms, c/w99: its p99 over the warm p99, c.cpu: its server CPU ms per request"
            if args.cold
            else ""
        )
    )
    for family, r in result["rows"].items():
        print(
            f"{family}: server RSS idle {r['rss_idle']:.0f} MB, serving {r['rss_loaded']:.0f} MB"
            f" (+{r['rss_loaded'] - r['rss_idle']:.0f} MB; models loaded in {r['load_s']:.1f}s),"
            f" after the load {r['rss_serving']:.0f} MB, peak {r['rss_peak']:.0f} MB"
        )


def report_ann(r: dict[str, Any]) -> None:
    print(
        f"ANN (faiss IVF-SQ8, {r['cells']} cells, nprobe {r['nprobe']} calibrated): recall@10 vs exact "
        f"{r['recall']:.3f}; index built in {r['build_s']:.1f}s; in-process recommend "
        f"{r['ann_ms']:.2f} ms with ANN, {r['exact_ms']:.2f} ms exact"
    )
    print(
        f"similar items (cosine index, nprobe {r['neighbours_nprobe']} calibrated): recall@10 "
        f"vs exact {r['similar_recall']:.3f}; index built in {r['neighbours_build_s']:.1f}s; "
        f"in-process {r['similar_ann_ms']:.2f} ms with ANN, {r['similar_exact_ms']:.2f} ms exact"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=["bench", "bare", "load"], default="bench")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default=REQUEST_PATH, help="load role: {user} is replaced")
    parser.add_argument("--quick", action="store_true", help="20k items, 2,000 users, short phases")
    parser.add_argument("--sizes", default="100000", help="catalogue sizes, e.g. 100000,1000000")
    parser.add_argument(
        "--families",
        default=",".join(FAMILIES),
        help="recommended champions to measure, one server each (als alone at 1M items)",
    )
    parser.add_argument("--cold", action="store_true", help="every user's first request too")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--ann-min-items", type=int, default=50_000)
    parser.add_argument("--bare-async", action="store_true", help="an async def peer endpoint")
    parser.add_argument("--profile", action="store_true", help="cProfile the request path")
    parser.add_argument("--sweep", action="store_true", help="load role: each user once")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folders")
    parser.add_argument("--max-rss-mb", type=float, default=6000, help="stop a bigger server")
    args = parser.parse_args()
    if args.role == "bare":
        run_bare(args.port, args.bare_async)
        return
    if args.role == "load":
        figures = asyncio.run(
            _drive(
                *(args.port, args.path, args.users, args.connections),
                *(args.warmup, args.seconds, args.sweep),
            )
        )
        print(json.dumps(figures))
        return
    unknown = set(args.families.split(",")) - set(FAMILIES)
    if unknown:
        parser.error(f"unknown families {sorted(unknown)}; known: {', '.join(FAMILIES)}")
    if args.quick:
        args.sizes, args.users, args.warmup, args.seconds = "20000", 2000, 1.0, 4.0
    print(f"serving benchmark on {os.cpu_count()} CPUs; {args.connections} connections, ", end="")
    print(f"{args.warmup:.0f}s warm-up, {args.seconds:.0f}s timed, 1 uvicorn worker each")
    for size in (int(s) for s in args.sizes.split(",")):
        bench_size(size, args)


if __name__ == "__main__":
    main()
