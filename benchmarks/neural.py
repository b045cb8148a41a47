"""Next-item prediction: the sequential and neural models against the best classic ones.

Protocol, the same for every model of a data set: each user's last positive event (in
time order) is the test target (``leave_last_out``), every model fits on the rest, and
ranks the whole catalogue with the user's training items left out (full ranking, no
sampled negatives). Reported: NDCG@10 and HR@10; beside them, labelled ``s100``, the
same two under the SASRec paper's protocol (the target ranked against 100 random unseen
items), for comparison with published tables only; fit time (per epoch and in total for
the neural models, whose epoch count early stopping decides) and time-to-quality (``ttq
s``: seconds of training until the validation NDCG@10 first came within 1% of its best);
and the latency of one single-user ``recommend`` call given the user's sequence and
history, as the serving engine makes it (mean and p99 over 300 users, ms).

Rows: ``sasrec-before`` is SASRec with its settings from before the speed work (batch 64
at 2e-3, eight epochs of patience, a full softmax); ``sasrec`` at today's defaults (batch
16 at 4e-3, patience 4, chosen from this comparison); ``sasrec-fast`` the same without
attention dropout (the fused attention kernel); ``hstu`` and ``gru4rec`` at their
defaults; the classic models
(``--classic``, EASE by default: the best classic one on MovieLens).
With ``two_tower`` among ``--neural``, its item table is then served as float16 and int8
(``QuantisedScorer``): its NDCG@10 loss and the bytes saved, as
``benchmarks/compression.py`` prints them.

Data sets (from ``../shared/datasets``, read with ``recserve.importers.datasets``):

* MovieLens 100K and MovieLens latest-small: every rating is an interaction, whatever its
  stars (the usual next-item protocol of SASRec and its successors), ordered by timestamp;
  ties keep file order.
* Last.fm 2K (``user_artists.dat``): every user-artist pair is a positive ``play`` event.
  The file has no timestamps and lists each user's artists by artist id, so file order
  would leak the held-out item (the highest id) to an order-aware model. Each user's events
  get a seeded random order instead: the test item is a random artist per user, and the
  order carries no signal; read the sequential models' figures there as "set" models.

Classic models run at their defaults and, with ``--tune-seconds`` (default 30), tuned by
the project's Optuna search on a leave-last-out validation split carved from the training
part; the neural models run at their defaults (no tuning), on ``--threads`` CPU threads.

    .venv/bin/python benchmarks/neural.py [--datasets movielens-100k,movielens-latest-small]
        [--neural sasrec-before,sasrec,hstu,gru4rec] [--classic ease]
        [--threads 2] [--tune-seconds 30] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np

from compression import compare_dtypes  # a sibling script: benchmarks/ is on sys.path
from recserve.algorithms import FAMILIES, Recommender, create
from recserve.algorithms.neural.sequences import user_sequences
from recserve.config import FeedbackKind, FeedbackType
from recserve.data import Dataset
from recserve.evaluation import Split, evaluate_ranking, leave_last_out
from recserve.evaluation.tuning import tune
from recserve.importers.datasets import load_dataset

DATASETS = ("movielens-100k", "movielens-latest-small")
CLASSIC = ("ease",)
NEURAL = ("sasrec", "hstu", "gru4rec", "sasrec-fast")
# row name -> (family, parameters besides threads and device)
NEURAL_ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "sasrec-before": (
        "sasrec",
        {"batch_size": 64, "learning_rate": 2e-3, "patience": 8, "loss": "softmax"},
    ),
    "sasrec": ("sasrec", {}),
    # today's defaults without attention dropout (the fused kernel)
    "sasrec-fast": (
        "sasrec",
        {"attention_dropout": 0.0, "batch_size": 16, "learning_rate": 4e-3, "patience": 4},
    ),
    "hstu": ("hstu", {}),
    "gru4rec": ("gru4rec", {}),
    "two_tower": ("two_tower", {}),
}
QUANTISED = "two_tower"  # the neural model whose item table is served quantised
LATENCY_USERS = 300
SAMPLED_NEGATIVES = 100  # the SASRec paper's protocol
SEED = 0


def movielens_100k() -> Dataset:
    """Every rating is an interaction (positive), in time order."""
    return load_dataset("movielens-100k", {"rating": FeedbackType(kind=FeedbackKind.POSITIVE)})


def movielens_latest_small() -> Dataset:
    """Every rating is an interaction (positive), in time order."""
    return load_dataset(
        "movielens-latest-small", {"rating": FeedbackType(kind=FeedbackKind.POSITIVE)}
    )


def lastfm_2k() -> Dataset:
    """Plays as positive events; each user's events in a seeded random order (see above)."""
    data = load_dataset("lastfm-2k")
    rng = np.random.default_rng(SEED)
    timestamp = data.timestamp + rng.permutation(len(data)).astype(np.float64)
    return replace(data, timestamp=timestamp, _cache={})


LOADERS = {
    "movielens-100k": movielens_100k,
    "movielens-latest-small": movielens_latest_small,
    "lastfm-2k": lastfm_2k,
}


@dataclass
class Row:
    name: str
    ndcg: float = float("nan")
    hit_rate: float = float("nan")
    sampled_ndcg: float = float("nan")
    sampled_hit_rate: float = float("nan")
    fit_seconds: float = float("nan")
    epochs: int | None = None
    epoch_seconds: float | None = None
    quality_seconds: float | None = None
    latency_mean_ms: float = float("nan")
    latency_p99_ms: float = float("nan")
    note: str = ""


def latency(model: Recommender[Any], split: Split, rng: np.random.Generator) -> tuple[float, float]:
    """Mean and p99 (ms) of one-user ``recommend`` calls with the user's history and sequence."""
    history = split.train.positive_matrix()
    seen = split.train.seen_matrix()
    sequences = user_sequences(split.train)
    users = rng.choice(split.train.n_users, min(LATENCY_USERS, split.train.n_users), replace=False)
    timings = []
    for u in [users[0], *users]:  # the first call warms up
        start = time.perf_counter()
        model.recommend(np.array([u]), history[u], 10, seen[u], [sequences.row(int(u))])
        timings.append(time.perf_counter() - start)
    ms = np.array(timings[1:]) * 1000.0
    return float(ms.mean()), float(np.percentile(ms, 99))


def run_model(
    name: str, family: str, params: dict[str, Any], split: Split
) -> tuple[Row, Recommender[Any]]:
    start = time.perf_counter()
    model = create(family, **params).fit(split.train)
    row = Row(name, fit_seconds=time.perf_counter() - start)
    history = getattr(model, "history", None)
    if history:
        row.epochs = len(history)
        row.epoch_seconds = float(np.mean([h.seconds for h in history]))
        scored = [h for h in history if h.validation is not None]
        if scored:
            best = max(scored, key=lambda h: h.validation)
            row.quality_seconds = time_to_quality(history)
            row.note = f"best epoch {best.epoch}, validation NDCG@10 {best.validation:.4f}"
    metrics = evaluate_ranking(model, split, k=10, metrics=("ndcg", "hit_rate"))
    row.ndcg, row.hit_rate = metrics["ndcg@10"], metrics["hit_rate@10"]
    sampled = evaluate_ranking(
        model,
        split,
        k=10,
        metrics=("ndcg", "hit_rate"),
        sampled_negatives=SAMPLED_NEGATIVES,
        seed=SEED,
    )
    row.sampled_ndcg, row.sampled_hit_rate = (
        sampled["sampled_ndcg@10"],
        sampled["sampled_hit_rate@10"],
    )
    row.latency_mean_ms, row.latency_p99_ms = latency(model, split, np.random.default_rng(SEED))
    return row, model


def time_to_quality(history: list[Any], within: float = 0.01) -> float | None:
    """Seconds of training (validation included) until the validation NDCG@10 first came
    within ``within`` of its best."""
    scores = [h.validation for h in history]
    if not scores or any(v is None for v in scores):
        return None
    goal = (1.0 - within) * max(scores)
    elapsed = np.cumsum([h.seconds for h in history])
    return float(elapsed[next(i for i, v in enumerate(scores) if v >= goal)])


def classic_params(family: str, split: Split, tune_seconds: float) -> tuple[dict[str, Any], str]:
    if tune_seconds <= 0:
        return {}, "defaults"
    result = tune(family, split.train, leave_last_out, budget_seconds=tune_seconds, seed=SEED)
    if result.best_value <= result.default_value:
        return {}, "defaults (tuning found nothing better)"
    shown = ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in result.best_params.items()
    )
    return dict(result.best_params), f"tuned: {shown}"


def neural_params(name: str, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    family, fixed = NEURAL_ROWS[name]
    params: dict[str, Any] = {"threads": args.threads, "device": args.device, **fixed}
    accepted = FAMILIES[family].config_class.model_fields
    return family, {k: v for k, v in params.items() if k in accepted}


def fmt(value: float | int | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def print_table(title: str, rows: list[Row]) -> None:
    header = [
        "model",
        "NDCG@10",
        "HR@10",
        "s100 NDCG",
        "s100 HR",
        "fit s",
        "epochs",
        "s/epoch",
        "ttq s",
        "lat ms",
        "p99 ms",
        "note",
    ]
    cells = [
        [
            r.name,
            fmt(r.ndcg),
            fmt(r.hit_rate),
            fmt(r.sampled_ndcg),
            fmt(r.sampled_hit_rate),
            fmt(r.fit_seconds, 1),
            fmt(r.epochs),
            fmt(r.epoch_seconds, 2),
            fmt(r.quality_seconds, 1),
            fmt(r.latency_mean_ms, 2),
            fmt(r.latency_p99_ms, 2),
            r.note,
        ]
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    print(f"\n{title}")
    for line in [header, ["-" * w for w in widths], *cells]:
        print(
            "  ".join(
                c.ljust(w) if i in (0, len(header) - 1) else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )


def bench(name: str, args: argparse.Namespace) -> list[Row]:
    data = LOADERS[name]()
    split = leave_last_out(data)
    print(
        f"\n== {name}: {data.n_users} users, {data.n_items} items, {len(data)} events; "
        f"leave-last-out: {len(split.test)} test events",
        flush=True,
    )
    rows = []
    quantised: tuple[Recommender[Any], float] | None = None
    classic_families = [f.strip() for f in args.classic.split(",") if f.strip()]
    for family in classic_families:
        if family not in FAMILIES:
            rows.append(Row(family, note="not available"))
            continue
        params, note = classic_params(family, split, args.tune_seconds)
        row, _ = run_model(family, family, params, split)
        row.note = note
        rows.append(row)
        print(f"  {family}: NDCG@10 {row.ndcg:.4f} ({row.fit_seconds:.1f}s)", flush=True)
    for row_name in [n.strip() for n in args.neural.split(",") if n.strip()]:
        family, params = neural_params(row_name, args)
        if family not in FAMILIES:
            rows.append(Row(row_name, note="not available"))
            print(f"  {row_name}: not available", flush=True)
            continue
        row, model = run_model(row_name, family, params, split)
        rows.append(row)
        if row_name == QUANTISED:
            quantised = (model, row.fit_seconds)
        print(
            f"  {row_name}: NDCG@10 {row.ndcg:.4f} ({row.fit_seconds:.1f}s, "
            f"time-to-quality {fmt(row.quality_seconds, 1)}s)",
            flush=True,
        )
    print_table(
        f"{name} (leave-last-out; full ranking, s100: {SAMPLED_NEGATIVES} sampled negatives)",
        rows,
    )
    by_name = {r.name: r for r in rows if np.isfinite(r.ndcg)}
    classic = [r for r in rows if r.name in classic_families and np.isfinite(r.ndcg)]
    if classic and "sasrec" in by_name:
        best = max(classic, key=lambda r: r.ndcg)
        ratio("sasrec / best classic", by_name["sasrec"].ndcg, best.ndcg, f" ({best.name})")
    if "hstu" in by_name and "sasrec" in by_name:
        ratio("hstu / sasrec", by_name["hstu"].ndcg, by_name["sasrec"].ndcg)
    before = by_name.get("sasrec-before")
    after = by_name.get("sasrec", by_name.get("sasrec-fast"))
    if before and after and before.quality_seconds and after.quality_seconds:
        print(
            f"sasrec time-to-quality, before / after: {before.quality_seconds:.1f}s / "
            f"{after.quality_seconds:.1f}s = {before.quality_seconds / after.quality_seconds:.2f}x"
            f" faster (fit {before.fit_seconds:.1f}s / {after.fit_seconds:.1f}s)"
        )
    if quantised is not None:
        compare_dtypes(
            f"{QUANTISED} item table, quantised for serving", *quantised[:1], split, quantised[1]
        )
    return rows


def ratio(label: str, a: float, b: float, which: str = "") -> None:
    print(f"{label}{which} NDCG@10: {a:.4f} / {b:.4f} = {a / b:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    parser.add_argument(
        "--tune-seconds",
        type=float,
        default=30.0,
        help="Optuna budget per classic model; 0: defaults",
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument(
        "--classic",
        default=",".join(CLASSIC),
        help="Classic families to compare (EASE takes minutes per fit above ~15k items)",
    )
    parser.add_argument(
        "--neural",
        default=",".join(NEURAL),
        help=f"Neural rows, from {', '.join(NEURAL_ROWS)}",
    )
    args = parser.parse_args()
    for name in args.datasets.split(","):
        bench(name.strip(), args)


if __name__ == "__main__":
    main()
