"""Train/test splits of a :class:`~recserve.data.Dataset`, seeded and deterministic.

Every splitter partitions the events: each event lands in exactly one of ``train``,
``test`` (and, for held-out users, ``history``). The parts are ``Dataset.subset`` views,
so they keep the full vocabularies and a test event's user and item indices mean the same
thing as in train. "Latest" always means by timestamp, ties broken by event order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recserve.data import Dataset
from recserve.data.dataset import POSITIVE


@dataclass(frozen=True)
class Split:
    """A train part to fit on and a test part to score against.

    ``history`` is set only for held-out-user splits: the test users' earlier events, given
    to the model at request time (their later positives in ``test`` are the targets).
    """

    train: Dataset
    test: Dataset
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    history: Dataset | None = None


def _split(
    data: Dataset,
    test: np.ndarray,
    name: str,
    params: dict[str, Any],
    history: np.ndarray | None = None,
) -> Split:
    train = ~test if history is None else ~(test | history)
    return Split(
        train=data.subset(train),
        test=data.subset(test),
        name=name,
        params=params,
        history=None if history is None else data.subset(history),
    )


def _check_fraction(name: str, value: float, zero_allowed: bool = False) -> None:
    if not (0.0 <= value < 1.0 if zero_allowed else 0.0 < value < 1.0):
        low = "[0" if zero_allowed else "(0"
        raise ValueError(f"{name} must be in {low}, 1), got {value}")


def _round(x: np.ndarray | float) -> np.ndarray:
    """Round half up (``np.round`` rounds half to even)."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def latest_per_user(
    data: Dataset, eligible: np.ndarray, how_many: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Mask of each user's latest eligible events.

    ``how_many`` maps each eligible event's per-user count to the number to take from
    that user (an array, evaluated once per event).
    """
    index = np.flatnonzero(eligible)
    order = index[np.lexsort((index, data.timestamp[index], data.user[index]))]
    user = data.user[order]
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]]) if len(user) else np.array([], int)
    counts = np.diff(np.r_[starts, len(user)])
    count = np.repeat(counts, counts)
    from_end = count - 1 - (np.arange(len(user)) - np.repeat(starts, counts))
    mask = np.zeros(len(data), dtype=bool)
    mask[order[from_end < how_many(count)]] = True
    return mask


def random_holdout(data: Dataset, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """A random ``test_fraction`` of all events is the test part."""
    _check_fraction("test_fraction", test_fraction)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(data), dtype=bool)
    test[rng.permutation(len(data))[: int(_round(test_fraction * len(data)))]] = True
    return _split(data, test, "random_holdout", {"test_fraction": test_fraction, "seed": seed})


def global_temporal(data: Dataset, test_fraction: float = 0.2) -> Split:
    """Events from a time cut-off on are the test part ("train on the past, test on the future").

    The cut-off is the timestamp of the latest ``test_fraction`` of events; events sharing
    that timestamp all go to test, so every train event is strictly older than every test one.
    """
    _check_fraction("test_fraction", test_fraction)
    n_test = int(_round(test_fraction * len(data)))
    cutoff = float(np.sort(data.timestamp)[len(data) - n_test]) if n_test else None
    test = data.timestamp >= cutoff if cutoff is not None else np.zeros(len(data), dtype=bool)
    params = {"test_fraction": test_fraction, "cutoff": cutoff}
    return _split(data, test, "global_temporal", params)


def leave_last_out(data: Dataset, n: int = 1, positive_only: bool = True) -> Split:
    """Per user, the last ``n`` positive events (any events if not ``positive_only``) are test.

    At least one eligible event always stays in train, so a user with fewer than two
    eligible events keeps everything in train, and one with ``p <= n`` gives ``p - 1``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    eligible = data.kind == POSITIVE if positive_only else np.ones(len(data), dtype=bool)
    test = latest_per_user(data, eligible, lambda count: np.minimum(n, count - 1))
    return _split(data, test, "leave_last_out", {"n": n, "positive_only": positive_only})


def temporal_fraction(data: Dataset, test_fraction: float = 0.2) -> Split:
    """Per user, their latest ``test_fraction`` of events (rounded, at least one kept in train)."""
    _check_fraction("test_fraction", test_fraction)
    everything = np.ones(len(data), dtype=bool)
    test = latest_per_user(
        data, everything, lambda count: np.minimum(_round(test_fraction * count), count - 1)
    )
    return _split(data, test, "temporal_fraction", {"test_fraction": test_fraction})


def held_out_users(
    data: Dataset, test_fraction: float = 0.2, seed: int = 0, history_fraction: float = 0.5
) -> Split:
    """Strong generalisation: a random ``test_fraction`` of users never appears in train.

    Test users are drawn from users with at least two events. Each one's earliest
    ``history_fraction`` of events (rounded, at most all but one) is ``history``, given to
    the model at request time; the rest is ``test``, whose positives are the targets.
    """
    _check_fraction("test_fraction", test_fraction)
    _check_fraction("history_fraction", history_fraction, zero_allowed=True)
    known = data.user >= 0
    per_user = np.bincount(data.user[known], minlength=data.n_users)
    candidates = np.flatnonzero(per_user >= 2)
    n_test = int(_round(test_fraction * len(candidates)))
    if len(candidates) and n_test == 0:
        n_test = 1
    rng = np.random.default_rng(seed)
    chosen = np.zeros(data.n_users, dtype=bool)
    chosen[rng.choice(candidates, n_test, replace=False)] = True
    of_test_user = known & chosen[np.clip(data.user, 0, None)]
    test = latest_per_user(
        data,
        of_test_user,
        lambda count: count - np.minimum(_round(history_fraction * count), count - 1),
    )
    params = {"test_fraction": test_fraction, "seed": seed, "history_fraction": history_fraction}
    return _split(data, test, "held_out_users", params, history=of_test_user & ~test)


def k_fold(data: Dataset, k: int = 5, seed: int = 0) -> Iterator[Split]:
    """``k`` splits whose test parts are disjoint random folds covering every event once."""
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    folds = np.array_split(np.random.default_rng(seed).permutation(len(data)), k)
    for fold, index in enumerate(folds):
        test = np.zeros(len(data), dtype=bool)
        test[index] = True
        yield _split(data, test, "k_fold", {"k": k, "fold": fold, "seed": seed})


SPLITTERS: dict[str, Callable[..., Split]] = {
    "random_holdout": random_holdout,
    "global_temporal": global_temporal,
    "leave_last_out": leave_last_out,
    "temporal_fraction": temporal_fraction,
    "held_out_users": held_out_users,
}
