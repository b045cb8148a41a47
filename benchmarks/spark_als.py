"""Spark MLlib ALS (recserve's Spark engine) against the local ALS (implicit) on one split.

Both fit the same hyperparameters (factors, iterations, alpha, implicit feedback) on the
same train part, mapped to Spark by ``recserve.training.spark_als``: Spark's confidence
``1 + r`` gets ``r = alpha * w - 1`` (implicit's ``alpha * w``), and since Spark
regularises ``regParam * n_u`` per user ("ALS-WR") where implicit uses a constant lambda,
``regParam = lambda / mean pairs per user``. Both models are recserve ``als`` models scored
by the same evaluation code: NDCG@10 and HR@10 over the whole catalogue, seen items
excluded.

The two objectives still differ (per-user against constant regularisation), so the same
lambda is not the same model: the benchmark fits both over a grid of lambda and compares
each library at its best lambda (the stated tolerance: |NDCG@10 difference| <= 0.02), and
prints the difference at every lambda too.

    .venv/bin/python benchmarks/spark_als.py [--dataset movielens-100k]
        [--split random_holdout|per_user_holdout] [--master local[*]] [--grid 1,3,10,30]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

from recserve.algorithms import create
from recserve.algorithms.als import ALSConfig
from recserve.evaluation import evaluate_ranking, random_holdout
from recserve.importers.datasets import load_dataset
from recserve.training import spark_als
from recserve.training.selection import per_user_holdout

TOLERANCE = 0.02  # |NDCG@10 difference| allowed between the two at their best lambda


def scores(model, split) -> dict[str, float]:
    result = evaluate_ranking(model, split, k=10, metrics=("ndcg", "hit_rate"))
    return {"ndcg": result["ndcg@10"], "hr": result["hit_rate@10"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens-100k")
    parser.add_argument(
        "--split", default="random_holdout", choices=["random_holdout", "per_user_holdout"]
    )
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--factors", type=int, default=ALSConfig().factors)
    parser.add_argument("--alpha", type=float, default=ALSConfig().alpha)
    parser.add_argument("--iterations", type=int, default=ALSConfig().iterations)
    parser.add_argument(
        "--grid", default="1,3,10,30", help="lambda values (recserve's regularization)"
    )
    args = parser.parse_args()
    grid = [float(x) for x in args.grid.split(",")]

    data = load_dataset(args.dataset)
    split = (
        random_holdout(data, 0.2, seed=0)
        if args.split == "random_holdout"
        else per_user_holdout(data)
    )
    base = ALSConfig(factors=args.factors, alpha=args.alpha, iterations=args.iterations)
    print(
        f"{args.dataset}: {data.n_users} users, {data.n_items} items, {len(data)} events; "
        f"{split.name} {split.params}; {os.cpu_count()} CPUs"
    )
    print(
        f"ALS factors={base.factors} alpha={base.alpha} iterations={base.iterations}; "
        f"Spark {spark_als.spark_version()} on {args.master}; implicit on {os.cpu_count()} threads"
    )
    print(
        f"\n{'lambda':>7} {'regParam':>9} | {'local NDCG':>10} {'HR@10':>7} {'fit s':>6} | {'Spark NDCG':>10} {'HR@10':>7} {'fit s':>6} | {'diff':>7}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as work, spark_als.spark_session(args.master) as spark:
        for lam in grid:
            config = base.model_copy(update={"regularization": lam})
            t0 = time.perf_counter()
            local = create("als", **config.model_dump()).fit(split.train)
            local_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            model, params = spark_als.fit_spark_als(spark, split.train, config, Path(work))
            spark_s = time.perf_counter() - t0
            a, b = scores(local, split), scores(model, split)
            rows.append((lam, a, b, local_s, spark_s))
            print(
                f"{lam:>7g} {params['regParam']:>9.5f} | {a['ndcg']:>10.4f} {a['hr']:>7.4f} {local_s:>6.1f} | "
                f"{b['ndcg']:>10.4f} {b['hr']:>7.4f} {spark_s:>6.1f} | {b['ndcg'] - a['ndcg']:>+7.4f}",
                flush=True,
            )
    print(
        f"(regParam = lambda / {params['mean_pairs_per_user']:.1f} mean positive pairs per training user)"
    )
    best_local = max(rows, key=lambda r: r[1]["ndcg"])
    best_spark = max(rows, key=lambda r: r[2]["ndcg"])
    diff = best_spark[2]["ndcg"] - best_local[1]["ndcg"]
    verdict = "within" if abs(diff) <= TOLERANCE else "OUTSIDE"
    print(
        f"\nbest local: lambda {best_local[0]:g} NDCG@10 {best_local[1]['ndcg']:.4f} HR@10 {best_local[1]['hr']:.4f} | "
        f"best Spark: lambda {best_spark[0]:g} NDCG@10 {best_spark[2]['ndcg']:.4f} HR@10 {best_spark[2]['hr']:.4f}"
    )
    print(
        f"NDCG@10 Spark - local at their best: {diff:+.4f} (ratio {best_spark[2]['ndcg'] / best_local[1]['ndcg']:.3f}); "
        f"{verdict} the stated tolerance of +-{TOLERANCE}. Fit time Spark / local (sum over the grid): "
        f"{sum(r[4] for r in rows) / sum(r[3] for r in rows):.1f}x"
    )


if __name__ == "__main__":
    main()
