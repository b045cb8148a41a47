"""People you may know on the Last.fm 2K friend graph: friends of friends, taste, and blends.

Protocol: the friendships are made undirected; for every user with at least five friends,
a seeded 20% of their friendships (at least one, counting those already hidden by their
friends' draws) are hidden, both directions at once. The
``social`` family is fitted on all listening events plus the remaining friendships and,
for every user with a hidden friend, suggests 10 people (never themselves or a remaining
friend). Recall@10 is the share of the user's hidden friends among them, averaged over
users; the table compares pure friends of friends (graph_weight 1), pure taste (0), and
blends, with Adamic-Adar and plain common-neighbour counts.

    .venv/bin/python benchmarks/social.py [--hide 0.2] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from recserve.algorithms import create
from recserve.algorithms.social import friend_graph
from recserve.data import Dataset
from recserve.importers.datasets import load_dataset

K = 10
MIN_FRIENDS = 5
WEIGHTS = (1.0, 0.9, 0.8, 0.7, 0.5, 0.3, 0.0)


def hide_friendships(data: Dataset, share: float, seed: int) -> tuple[Dataset, dict[int, set[int]]]:
    """The data with ``share`` of each user's friendships removed, and who lost whom."""
    rng = np.random.default_rng(seed)
    graph = friend_graph(data).tolil()
    hidden: dict[int, set[int]] = {}
    degree = np.array([len(r) for r in graph.rows])
    for u in rng.permutation(data.n_users):
        friends = np.array(graph.rows[u], dtype=np.int64)
        if degree[u] < MIN_FRIENDS:
            continue
        # the user's quota, less what their friends' draws already took from them
        quota = max(1, round(share * degree[u])) - len(hidden.get(int(u), ()))
        for v in rng.choice(friends, max(quota, 0), replace=False):
            graph[u, v] = graph[v, u] = 0
            hidden.setdefault(int(u), set()).add(int(v))
            hidden.setdefault(int(v), set()).add(int(u))
    kept = graph.tocsr()
    kept.eliminate_zeros()
    a, b = kept.nonzero()
    return dataclasses.replace(data, relations=(a.astype(np.int32), b.astype(np.int32))), hidden


def recall_at_k(data: Dataset, hidden: dict[int, set[int]], **params: float | str) -> float:
    model = create("social", **params).fit(data)
    users = np.array(sorted(hidden), dtype=np.int64)
    ids, _ = model.similar_users(users, K)
    recalls = [
        len(hidden[int(u)] & set(row[row >= 0].tolist())) / len(hidden[int(u)])
        for u, row in zip(users, ids, strict=True)
    ]
    return float(np.mean(recalls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hide", type=float, default=0.2, help="share of friendships hidden")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    full = load_dataset("lastfm-2k")
    data, hidden = hide_friendships(full, args.hide, args.seed)
    n_hidden = sum(len(v) for v in hidden.values()) // 2
    print(
        f"Last.fm 2K: {full.n_users} users, {len(full)} events, "
        f"{friend_graph(full).nnz // 2} friendships, {n_hidden} hidden, "
        f"{len(hidden)} users evaluated; recall@{K} of hidden friends"
    )
    print(f"{'graph_weight':>12}  {'adamic_adar':>11}  {'common_nbrs':>11}  seconds")
    for weight in WEIGHTS:
        start = time.perf_counter()
        aa = recall_at_k(data, hidden, graph_weight=weight, graph_score="adamic_adar")
        cn = recall_at_k(data, hidden, graph_weight=weight, graph_score="common_neighbours")
        label = {1.0: "1.0 (FoF)", 0.0: "0.0 (taste)"}.get(weight, f"{weight:.1f}")
        print(f"{label:>12}  {aa:11.4f}  {cn:11.4f}  {time.perf_counter() - start:7.2f}")


if __name__ == "__main__":
    main()
