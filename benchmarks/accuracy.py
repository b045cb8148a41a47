"""Side-by-side accuracy: recserve's models against peer libraries on identical splits.

Top-N (NDCG@10, recall@20, full ranking over all items, seen items excluded) on MovieLens
100K, MovieLens latest-small and Last.fm 2K, one seeded 80/20 random holdout of events per
data set: every recserve model (tuned on a validation split carved from the training part,
--trials Optuna trials each, capped at --tune-seconds) against implicit's ALS and BPR, run
at their library defaults and tuned with the same number of trials over the same ranges on
the same validation split.

Rating prediction (RMSE) on MovieLens 100K, 5 seeded folds: recserve's rating models
against scikit-surprise's SVD and SVD++ (documented defaults) on the same folds.

    .venv/bin/python benchmarks/accuracy.py [--datasets movielens-100k,...] [--trials 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np

import peers
from recserve.algorithms import FAMILIES, create
from recserve.data import Dataset
from recserve.evaluation import evaluate_ranking, evaluate_ratings, k_fold, random_holdout
from recserve.evaluation.leaderboard import default_specs, run_leaderboard
from recserve.evaluation.tuning import tune
from recserve.importers.datasets import load_dataset

DATASETS = ("movielens-100k", "movielens-latest-small", "lastfm-2k")
SEED = 0
TRIALS = 10  # Optuna trials per model, recserve's and peers' alike (set by --trials)


def holdout(data: Dataset):
    return random_holdout(data, 0.2, seed=SEED)


def classic_specs(data: Dataset) -> list:
    """The classic (non-neural) families; neural ones have benchmarks/neural.py, and MiniLM
    encoding of every title takes minutes on two cores for little top-N accuracy."""
    return [
        spec
        for spec in default_specs(data)
        if ".neural." not in FAMILIES[spec.family].__module__ and spec.family != "embedding"
    ]


def peer_rows(split, tune_seconds: float) -> list[tuple[str, dict, float]]:
    """(name, test metrics, fit seconds) for implicit ALS/BPR at defaults and tuned."""
    rows = []
    for algorithm, peer in (("als", peers.ImplicitPeer), ("bpr", peers.ImplicitBPRPeer)):
        candidates = [(f"implicit {algorithm} (defaults)", {})]
        if tune_seconds > 0:
            result = tune(
                peer,
                split.train,
                holdout,
                budget_seconds=tune_seconds,
                max_trials=TRIALS,
                seed=SEED,
            )
            candidates.append((f"implicit {algorithm} (tuned)", result.best_params))
        for label, params in candidates:
            start = time.perf_counter()
            model = peer(**params).fit(split.train)
            fit = time.perf_counter() - start
            metrics = evaluate_ranking(
                model, split, k=(10, 20), metrics=("ndcg", "recall", "coverage")
            )
            rows.append((label, metrics, fit))
    return rows


def top_n_table(name: str, data: Dataset, tune_seconds: float) -> None:
    split = holdout(data)
    print(
        f"\n== {name}: {data.n_users} users, {data.n_items} items, {len(data)} events; "
        f"random 80/20 holdout (seed {SEED}), full ranking, {TRIALS} tuning trials per model =="
    )
    board = run_leaderboard(
        data,
        classic_specs(data),
        split=split,
        k=(10, 20),
        metric="ndcg@10",
        tune_seconds=tune_seconds,
        tune_trials=TRIALS,
        seed=SEED,
    )
    print(f"{'model':<34} {'NDCG@10':>8} {'recall@20':>9} {'cover@10':>8} {'fit s':>7}")
    ours = []
    for entry in board.entries:
        if entry.error:
            print(f"{'recserve ' + entry.name:<34} error: {entry.error[:60]}")
            continue
        m = entry.metrics
        ours.append((entry.name, m["ndcg@10"]))
        print(
            f"{'recserve ' + entry.name:<34} {m['ndcg@10']:>8.4f} {m['recall@20']:>9.4f} "
            f"{m.get('coverage@10', float('nan')):>8.3f} {entry.fit_seconds:>7.2f}"
        )
    theirs = []
    for label, m, fit in peer_rows(split, tune_seconds):
        theirs.append((label, m["ndcg@10"]))
        print(
            f"{label:<34} {m['ndcg@10']:>8.4f} {m['recall@20']:>9.4f} {m['coverage@10']:>8.3f} {fit:>7.2f}"
        )
    best_ours = max(ours, key=lambda r: r[1])
    best_peer = max(theirs, key=lambda r: r[1])
    print(
        f"best recserve: {best_ours[0]} {best_ours[1]:.4f} | best peer: {best_peer[0]} "
        f"{best_peer[1]:.4f} | ratio {best_ours[1] / best_peer[1]:.3f}"
    )


def rmse_table(data: Dataset, folds: int) -> None:
    rating_families = [f for f, cls in sorted(FAMILIES.items()) if cls.predicts_ratings]
    print(f"\n== movielens-100k rating prediction: {folds}-fold (seed {SEED}), RMSE ==")
    results: dict[str, list[float]] = {
        name: [] for name in [*rating_families, "surprise svd", "surprise svdpp"]
    }
    seconds: dict[str, float] = dict.fromkeys(results, 0.0)
    for split in k_fold(data, folds, seed=SEED):
        for family in rating_families:
            start = time.perf_counter()
            model = create(family).fit(split.train)
            results[family].append(evaluate_ratings(model, split)["rmse"])
            seconds[family] += time.perf_counter() - start
        for algorithm in ("svd", "svdpp"):
            start = time.perf_counter()
            results[f"surprise {algorithm}"].append(
                peers.surprise_rmse(algorithm, split.train, split.test, SEED)
            )
            seconds[f"surprise {algorithm}"] += time.perf_counter() - start
    print(f"{'model':<22} {'RMSE':>7} {'± sd':>6} {'seconds':>8}")
    for name, values in results.items():
        label = name if name.startswith("surprise") else f"recserve {name}"
        print(f"{label:<22} {np.mean(values):>7.4f} {np.std(values):>6.4f} {seconds[name]:>8.1f}")
    ours = min((np.mean(results[f]), f) for f in rating_families)
    best_peer = min((np.mean(results[p]), p) for p in ("surprise svd", "surprise svdpp"))
    print(
        f"best recserve: {ours[1]} {ours[0]:.4f} | best peer: {best_peer[1]} {best_peer[0]:.4f} | "
        f"ratio {ours[0] / best_peer[0]:.3f} (lower is better; target <= 0.91)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--tune-seconds", type=float, default=300.0, help="cap per model")
    parser.add_argument("--trials", type=int, default=10, help="Optuna trials per model")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--skip-rmse", action="store_true")
    args = parser.parse_args()
    global TRIALS
    TRIALS = args.trials
    print(f"accuracy benchmark on {os.cpu_count()} CPUs; {TRIALS} tuning trials per model")
    for name in args.datasets.split(","):
        data = load_dataset(name)
        top_n_table(name, data, args.tune_seconds)
        if name == "movielens-100k" and not args.skip_rmse:
            rmse_table(data, args.folds)


if __name__ == "__main__":
    main()
