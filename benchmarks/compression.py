"""Compression benchmark: what float16 and int8 item tables cost in accuracy and save in memory.

On MovieLens 100K (``u.data`` ratings, ``u.item`` titles and genres; per-user
leave-last-out split, full ranking over all items, seen items excluded) each factor-style
model is fitted once and served from its item table in float32, float16 and int8
(symmetric per-row scale) through ``QuantisedScorer``; the NDCG@10 of each, the loss
against float32 and the bytes of each table are printed. Models: ``two_tower``, and
``als`` when that family is registered. Then the memory of a synthetic 1M x 64 table in
each dtype, with the time of one exact scoring pass of 64 queries and the top-10 overlap
with float32 (DESIGN.md section 10: 1M x 64 within 0.5 GB above the idle process).

    .venv/bin/python benchmarks/compression.py [--data ../shared/datasets/movielens-100k]
        [--epochs 30] [--no-text] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from recserve.algorithms import FAMILIES, Recommender, create
from recserve.algorithms.neural.quantise import DTYPES, QuantisedScorer, item_table_of, quantise
from recserve.config import default_feedback_types
from recserve.data import Dataset
from recserve.evaluation.protocol import evaluate_ranking
from recserve.evaluation.splitters import Split, leave_last_out

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "movielens-100k"
GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip


def load_movielens(folder: Path) -> Dataset:
    """``u.data`` as rating events, ``u.item`` as titles and genre categories."""
    raw = np.loadtxt(folder / "u.data", dtype=np.int64)
    item_rows: dict[str, dict[str, Any]] = {}
    for line in (folder / "u.item").read_text(encoding="latin-1").splitlines():
        fields = line.split("|")
        if len(fields) < 5 + len(GENRES):
            continue
        flags = fields[5 : 5 + len(GENRES)]
        item_rows[fields[0]] = {
            "title": fields[1],
            "categories": [g for g, flag in zip(GENRES, flags, strict=True) if flag == "1"],
        }
    return Dataset.from_events(
        raw[:, 0].astype(str).astype(object),
        raw[:, 1].astype(str).astype(object),
        np.full(len(raw), "rating", dtype=object),
        raw[:, 2].astype(np.float64),
        raw[:, 3].astype(np.float64),
        default_feedback_types(),
        item_rows=item_rows,
    )


def ndcg(model: Recommender[Any], split: Split) -> float:
    return float(evaluate_ranking(model, split, k=10, metrics=("ndcg",))["ndcg@10"])


def compare_dtypes(name: str, model: Recommender[Any], split: Split, fit_seconds: float) -> None:
    reference = ndcg(model, split)
    print(f"\n{name}: fitted in {fit_seconds:.1f}s; the model's own NDCG@10 {reference:.4f}")
    print(f"  {'table':8} {'NDCG@10':>8} {'loss':>8} {'loss %':>7} {'bytes':>12} {'saving':>7}")
    base_ndcg, base_bytes = None, None
    for dtype in DTYPES:
        scorer = QuantisedScorer(model, dtype)
        value = ndcg(scorer, split)
        base_ndcg = value if base_ndcg is None else base_ndcg
        base_bytes = scorer.table.nbytes if base_bytes is None else base_bytes
        loss = base_ndcg - value
        print(
            f"  {dtype:8} {value:8.4f} {loss:8.4f} {100 * loss / base_ndcg:6.2f}% "
            f"{scorer.table.nbytes:12,d} {base_bytes / scorer.table.nbytes:6.2f}x"
        )


def synthetic_table(rows: int, dims: int = 64, queries: int = 64) -> None:
    rng = np.random.default_rng(0)
    table = rng.standard_normal((rows, dims), dtype=np.float32)
    q = rng.standard_normal((queries, dims), dtype=np.float32)
    print(f"\nsynthetic {rows:,} x {dims} table, {queries} queries, exact top-10")
    print(
        f"  {'table':8} {'MB':>8} {'saving':>7} {'quantise s':>10} {'score s':>8} {'top-10 overlap':>15}"
    )
    reference, base = None, None
    for dtype in DTYPES:
        start = time.perf_counter()
        quantised = quantise(table, dtype)
        made = time.perf_counter() - start
        start = time.perf_counter()
        scores = quantised.dot(q)
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        scored = time.perf_counter() - start
        reference = top if reference is None else reference
        base = quantised.nbytes if base is None else base
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, reference, strict=True)])
        print(
            f"  {dtype:8} {quantised.nbytes / 2**20:8.1f} {base / quantised.nbytes:6.2f}x "
            f"{made:10.2f} {scored:8.2f} {overlap:15.3f}"
        )
        del quantised, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MovieLens 100K folder")
    parser.add_argument("--epochs", type=int, default=30, help="two-tower epochs (early-stopped)")
    parser.add_argument("--no-text", action="store_true", help="two-tower without MiniLM text")
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic table rows")
    args = parser.parse_args()

    data = load_movielens(args.data)
    split = leave_last_out(data)
    print(
        f"MovieLens 100K: {data.n_users} users, {data.n_items} items, {len(data):,} events; "
        f"leave-last-out, full ranking, {len(split.test):,} test events"
    )
    models: list[tuple[str, dict[str, Any]]] = [
        ("two_tower", {"epochs": args.epochs, "use_text": not args.no_text}),
    ]
    if "als" in FAMILIES:
        models.append(("als", {}))
    else:
        print("(als is not registered in this build: two_tower only)")
    for family, params in models:
        start = time.perf_counter()
        model = create(family, **params).fit(split.train)
        seconds = time.perf_counter() - start
        item_table_of(model)  # fails clearly for a model without an item table
        compare_dtypes(family, model, split, seconds)
    synthetic_table(args.rows)


if __name__ == "__main__":
    main()
