"""Evaluate a fitted model on a :class:`Split`: top-N ranking and rating prediction.

Full ranking over the whole catalogue is the default, because sampled metrics (one
relevant item against a few random ones) rank models differently from what users see.
Sampled figures are computed only on request and every key starts with ``sampled_``, so a
report can never pass one off as a full-ranking figure.

What scales with the catalogue is the number of users ranked: ``max_users`` ranks a seeded
sample of the test users (stated as ``users_evaluated`` and ``sample_seed``), and the
lists come from :mod:`recserve.evaluation.ranking` (bounded batches, sparse exclusions,
``argpartition``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recserve.algorithms import NotFittedError, Recommender
from recserve.data import Dataset
from recserve.evaluation.metrics import (
    ACCURACY_METRICS,
    accuracy_metrics,
    catalogue_coverage,
    intra_list_diversity,
    mae,
    mean_defined,
    novelty,
    per_user,
    rmse,
)
from recserve.evaluation.ranking import (
    EVAL_MEMORY_BYTES,
    recommend_batch,
    rows_per_batch,
    sample_rows,
)
from recserve.evaluation.splitters import Split

BEYOND_ACCURACY = ("coverage", "novelty", "diversity")
DEFAULT_METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", *BEYOND_ACCURACY)


def _binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.data[:] = 1.0  # a stored entry is an event, even one with zero confidence
    return out


@dataclass(frozen=True)
class RankingTargets:
    """What each evaluated user is asked for and scored against (one row per user)."""

    users: np.ndarray  # dataset user indices
    model_users: np.ndarray  # what the model is asked about: the same, or -1 for held-out users
    relevant: sp.csr_matrix  # test positives not already seen before the test period
    exclude: sp.csr_matrix  # positives and negatives seen before (train, or history)
    history: sp.csr_matrix | None  # request-time positive confidences (held-out users only)


def ranking_targets(split: Split) -> RankingTargets:
    """The test users with at least one target: a test positive they had not seen before.

    A test positive on an item the user already saw is dropped from the targets: that item
    is excluded from the list, so it could never be hit.
    """
    seen = split.train.seen_matrix()
    history = None
    if split.history is not None:
        seen = _binary(seen + split.history.seen_matrix())
        history = split.history.positive_matrix()
    relevant = _binary(split.test.positive_matrix())
    relevant = sp.csr_matrix(relevant - relevant.multiply(seen))
    relevant.eliminate_zeros()
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    return RankingTargets(
        users=users,
        model_users=np.full(len(users), -1, np.int64) if history is not None else users,
        relevant=relevant[users],
        exclude=seen[users],
        history=history[users] if history is not None else None,
    )


def sample_targets(targets: RankingTargets, max_users: int | None, seed: int) -> RankingTargets:
    """A seeded sample of ``max_users`` of the targets' users (all of them when fewer)."""
    keep = sample_rows(len(targets.users), max_users, seed)
    if len(keep) == len(targets.users):
        return targets
    return RankingTargets(
        users=targets.users[keep],
        model_users=targets.model_users[keep],
        relevant=targets.relevant[keep],
        exclude=targets.exclude[keep],
        history=None if targets.history is None else targets.history[keep],
    )


def _check(model: Recommender[Any], split: Split, ks: Sequence[int], names: Sequence[str]) -> None:
    unknown = set(names) - set(ACCURACY_METRICS) - set(BEYOND_ACCURACY)
    if unknown:
        known = sorted({*ACCURACY_METRICS, *BEYOND_ACCURACY})
        raise ValueError(f"unknown metrics {sorted(unknown)}; known: {known}")
    if not ks or min(ks) < 1:
        raise ValueError(f"k must be positive, got {list(ks)}")
    if not model.is_fitted:
        raise NotFittedError(f"{type(model).__name__} is not fitted: fit it on split.train")
    if model.items is not split.train.items and model.items != split.train.items:
        raise ValueError(
            f"the model's {model.n_items} items are not the split's {split.train.n_items}: "
            "fit it on split.train"
        )


def _batches(n: int, batch_size: int) -> Iterable[slice]:
    return (slice(start, start + batch_size) for start in range(0, n, batch_size))


def _history(targets: RankingTargets, rows: slice) -> sp.csr_matrix | None:
    return None if targets.history is None else targets.history[rows]


def recommend_for(
    model: Recommender[Any],
    targets: RankingTargets,
    n: int,
    batch_size: int = 512,
    memory_bytes: int = EVAL_MEMORY_BYTES,
) -> np.ndarray:
    """Top-n lists (``-1`` padded) for every evaluated user, in batches of at most
    ``batch_size`` users whose scores fit in ``memory_bytes``."""
    lists = [np.empty((0, n), dtype=np.int64)]
    step = rows_per_batch(model.n_items, batch_size, memory_bytes)
    for rows in _batches(len(targets.users), step):
        ids, _ = recommend_batch(
            model, targets.model_users[rows], _history(targets, rows), n, targets.exclude[rows]
        )
        lists.append(ids)
    return np.concatenate(lists)


def _beyond_accuracy(
    recommended: np.ndarray, train: Dataset, ks: Sequence[int], names: Sequence[str]
) -> dict[str, float]:
    interactions = _binary(train.positive_matrix())
    counts = np.asarray(interactions.sum(axis=0)).ravel()
    n_users = int((np.diff(interactions.indptr) > 0).sum())
    item_vectors = sp.csr_matrix(interactions.T)
    result: dict[str, float] = {}
    for name in names:
        for k in ks:
            if name == "coverage":
                result[f"coverage@{k}"] = catalogue_coverage(recommended, train.n_items, k)
            elif name == "novelty":
                result[f"novelty@{k}"] = novelty(recommended, counts, n_users, k)
            elif name == "diversity":
                result[f"diversity@{k}"] = intra_list_diversity(recommended, item_vectors, k)
    return result


def _sample_unseen(
    rng: np.random.Generator, n_items: int, forbidden: np.ndarray, n: int
) -> np.ndarray:
    """``n`` distinct random items outside ``forbidden`` (all of them if fewer remain)."""
    available = n_items - len(forbidden)
    if available <= 4 * n or available < n_items // 2:
        pool = np.setdiff1d(np.arange(n_items), forbidden, assume_unique=True)
        return rng.choice(pool, min(n, len(pool)), replace=False)
    chosen = np.empty(0, dtype=np.int64)
    while len(chosen) < n:  # rejection sampling: cheap when most items are allowed
        draw = rng.integers(0, n_items, size=2 * (n - len(chosen)) + 8)
        merged = np.concatenate([chosen, draw[~np.isin(draw, forbidden)]])
        _, first = np.unique(merged, return_index=True)
        chosen = merged[np.sort(first)]
    return chosen[:n]


def _sampled_ranks(
    model: Recommender[Any],
    targets: RankingTargets,
    n_negatives: int,
    batch_size: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per (user, target item): the user's row and the target's 1-based rank among negatives.

    Ties count against the target; a target the model cannot score never ranks.
    """
    rng = np.random.default_rng(seed)
    rows_of, ranks = [], []
    for rows in _batches(len(targets.users), rows_per_batch(model.n_items, batch_size)):
        users, history = targets.model_users[rows], _history(targets, rows)
        scores = np.array(model.score(users, history), dtype=np.float64)
        scores[~model.has_signal(users, history)] = -np.inf
        for offset, row in enumerate(range(len(targets.users))[rows]):
            targets_of = targets.relevant[row].indices
            forbidden = np.union1d(targets.exclude[row].indices, targets_of)
            negatives = _sample_unseen(rng, model.n_items, forbidden, n_negatives)
            positive = scores[offset, targets_of]
            rank = 1 + (scores[offset, negatives][None, :] >= positive[:, None]).sum(axis=1)
            rank[np.isnan(positive) | np.isneginf(positive)] = np.iinfo(np.int64).max
            rows_of.append(np.full(len(targets_of), row))
            ranks.append(rank)
    if not ranks:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(rows_of), np.concatenate(ranks)


def _sampled_metrics(
    model: Recommender[Any],
    targets: RankingTargets,
    ks: Sequence[int],
    names: Sequence[str],
    n_negatives: int,
    batch_size: int,
    seed: int,
) -> dict[str, float]:
    """Each target is a one-item relevant set ranked among sampled items; users are averaged."""
    pair_row, rank = _sampled_ranks(model, targets, n_negatives, batch_size, seed)
    k_max = max(ks)
    hits = np.zeros((len(rank), k_max), dtype=bool)
    ranked = rank <= k_max
    hits[np.flatnonzero(ranked), rank[ranked] - 1] = True
    one = np.ones(len(rank), dtype=np.int64)
    n_pairs = np.bincount(pair_row, minlength=len(targets.users))
    result: dict[str, float] = {}
    for name in names:
        for k in ks:
            values = per_user(name, hits, one, k)
            total = np.bincount(pair_row, weights=values, minlength=len(targets.users))
            result[f"sampled_{name}@{k}"] = mean_defined(total[n_pairs > 0] / n_pairs[n_pairs > 0])
    return result


def evaluate_ranking(
    model: Recommender[Any],
    split: Split,
    k: int | Sequence[int] = (10, 20),
    metrics: Sequence[str] = DEFAULT_METRICS,
    batch_size: int = 512,
    sampled_negatives: int | None = None,
    seed: int = 0,
    *,
    max_users: int | None = None,
    sample_seed: int = 0,
    memory_bytes: int = EVAL_MEMORY_BYTES,
) -> dict[str, float]:
    """Top-N metrics of ``model`` (fitted on ``split.train``) on ``split.test``.

    Each test user with a target (see :func:`ranking_targets`) gets a list over the whole
    catalogue with what they saw before excluded; held-out users are asked about as unknown
    (``-1``) with their history. Keys are ``"<metric>@<k>"`` plus ``"users_evaluated"``.

    With ``max_users``, a sample of that many test users drawn with ``sample_seed`` is
    ranked (all of them when there are fewer); the result then also states ``sample_seed``
    and ``users_eligible`` (how many had a target). Users are scored in batches of at most
    ``batch_size`` whose float32 scores fit in ``memory_bytes``.

    With ``sampled_negatives``, each target is ranked against that many random items the
    user has not seen (seeded by ``seed``), only accuracy metrics are computed, and their
    keys start with ``sampled_``.
    """
    ks = sorted({k} if isinstance(k, int) else set(k))
    names = list(dict.fromkeys(metrics))
    _check(model, split, ks, names)
    targets = ranking_targets(split)
    eligible = len(targets.users)
    targets = sample_targets(targets, max_users, sample_seed)
    accuracy = [m for m in names if m in ACCURACY_METRICS]
    if sampled_negatives is not None:
        if sampled_negatives < 1:
            raise ValueError(f"sampled_negatives must be positive, got {sampled_negatives}")
        result = _sampled_metrics(model, targets, ks, accuracy, sampled_negatives, batch_size, seed)
        result["sampled_negatives"] = sampled_negatives
    else:
        recommended = recommend_for(model, targets, max(ks), batch_size, memory_bytes)
        result = accuracy_metrics(recommended, targets.relevant, ks, accuracy) if accuracy else {}
        beyond = [m for m in names if m in BEYOND_ACCURACY]
        result.update(_beyond_accuracy(recommended, split.train, ks, beyond))
    result["users_evaluated"] = len(targets.users)
    if max_users is not None:
        result["users_eligible"] = eligible
        result["sample_seed"] = sample_seed
    return result


def evaluate_ratings(model: Recommender[Any], split: Split) -> dict[str, float]:
    """RMSE and MAE of ``predict_ratings`` over the explicit ratings in ``split.test``.

    Held-out users are asked about as unknown (``-1``): the model's fallback is what counts.
    """
    if not model.predicts_ratings:
        raise ValueError(f"{type(model).__name__} does not predict ratings")
    users, items, ratings = split.test.ratings()
    if split.history is not None:
        users = np.full(len(users), -1, dtype=users.dtype)
    predicted = model.predict_ratings(users, items) if len(ratings) else np.empty(0)
    return {
        "rmse": rmse(predicted, ratings),
        "mae": mae(predicted, ratings),
        "ratings_evaluated": len(ratings),
    }


def mean_results(results: Iterable[dict[str, float]]) -> dict[str, float]:
    """Key-wise mean of several result dicts (e.g. the folds of :func:`k_fold`)."""
    results = list(results)
    keys = dict.fromkeys(key for result in results for key in result)
    return {key: mean_defined(np.array([r.get(key, np.nan) for r in results])) for key in keys}
