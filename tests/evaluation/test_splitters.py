"""Splitters: partitions, time order, per-user rules, determinism, unchanged vocabularies."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recserve.data import Dataset
from recserve.evaluation.splitters import (
    Split,
    global_temporal,
    held_out_users,
    k_fold,
    leave_last_out,
    random_holdout,
    temporal_fraction,
)
from tests.evaluation.strategies import SETTINGS, dataset, datasets

SPLITS: dict[str, Callable[[Dataset], Split]] = {
    "random_holdout": lambda d: random_holdout(d, 0.3, seed=7),
    "global_temporal": lambda d: global_temporal(d, 0.3),
    "leave_last_out": lambda d: leave_last_out(d),
    "leave_last_2_any": lambda d: leave_last_out(d, n=2, positive_only=False),
    "temporal_fraction": lambda d: temporal_fraction(d, 0.4),
    "held_out_users": lambda d: held_out_users(d, 0.4, seed=3),
    "k_fold_1": lambda d: list(k_fold(d, k=3, seed=1))[1],
}


def events(part: Dataset | None) -> np.ndarray:
    """The event numbers (``value`` of the strategy datasets) in a part."""
    return np.empty(0, dtype=np.int64) if part is None else part.value.astype(np.int64)


def order_key(data: Dataset, event: int) -> tuple[float, int]:
    return (float(data.timestamp[event]), event)


@pytest.mark.parametrize("name", SPLITS)
@SETTINGS
@given(data=datasets())
def test_every_event_lands_in_exactly_one_part(name: str, data: Dataset) -> None:
    split = SPLITS[name](data)
    parts = np.concatenate([events(split.train), events(split.test), events(split.history)])
    np.testing.assert_array_equal(np.sort(parts), np.arange(len(data)))
    for part in (split.train, split.test, split.history):
        if part is not None:
            assert part.users is data.users and part.items is data.items
            # an event keeps its user and item indices
            np.testing.assert_array_equal(part.user, data.user[events(part)])
            np.testing.assert_array_equal(part.item, data.item[events(part)])


@pytest.mark.parametrize("name", SPLITS)
@SETTINGS
@given(data=datasets())
def test_deterministic(name: str, data: Dataset) -> None:
    first, second = SPLITS[name](data), SPLITS[name](data)
    np.testing.assert_array_equal(events(first.test), events(second.test))
    np.testing.assert_array_equal(events(first.history), events(second.history))
    assert first.params == second.params and first.name == second.name


@SETTINGS
@given(data=datasets(), n=st.integers(1, 3))
def test_leave_last_out_holds_out_each_users_latest_positives(data: Dataset, n: int) -> None:
    split = leave_last_out(data, n=n)
    test = set(events(split.test).tolist())
    for u in range(data.n_users):
        positives = sorted(
            (e for e in range(len(data)) if data.user[e] == u and data.kind[e] == 1),
            key=lambda e: order_key(data, e),
        )
        expected = positives[len(positives) - min(n, max(len(positives) - 1, 0)) :]
        assert {e for e in test if data.user[e] == u} == set(expected)
    assert (split.test.kind == 1).all()


def test_leave_last_out_by_hand() -> None:
    # user 0: positives at t=1, 5, 5 (the later event wins the tie), a negative at t=9
    # user 1: a single positive stays in train
    data = dataset(
        user=[0, 0, 0, 0, 1, 1],
        item=[0, 1, 2, 3, 0, 1],
        kind=[1, 1, 1, -1, 1, 0],
        timestamp=[1, 5, 5, 9, 3, 4],
        n_users=2,
        n_items=4,
    )
    assert events(leave_last_out(data).test).tolist() == [2]
    assert sorted(events(leave_last_out(data, n=5).test).tolist()) == [1, 2]
    assert events(leave_last_out(data, positive_only=False).test).tolist() == [3, 5]


@SETTINGS
@given(data=datasets(), fraction=st.floats(0.05, 0.95))
def test_global_temporal_trains_on_the_past(data: Dataset, fraction: float) -> None:
    split = global_temporal(data, fraction)
    if len(split.train) and len(split.test):
        assert split.train.timestamp.max() < split.test.timestamp.min()
    assert len(split.test) >= round(fraction * len(data)) - 1


@SETTINGS
@given(data=datasets(), fraction=st.floats(0.05, 0.95))
def test_temporal_fraction_is_per_user_and_ordered(data: Dataset, fraction: float) -> None:
    split = temporal_fraction(data, fraction)
    for u in range(data.n_users):
        train = [e for e in events(split.train) if data.user[e] == u]
        test = [e for e in events(split.test) if data.user[e] == u]
        if test:
            assert train, "every user keeps an event in train"
            assert max(order_key(data, e) for e in train) < min(order_key(data, e) for e in test)
            assert len(test) == min(
                int(np.floor(fraction * (len(train) + len(test)) + 0.5)), len(train) + len(test) - 1
            )


@SETTINGS
@given(data=datasets(), fraction=st.floats(0.1, 0.9), history=st.floats(0.0, 0.9))
def test_held_out_users_never_train(data: Dataset, fraction: float, history: float) -> None:
    split = held_out_users(data, fraction, seed=5, history_fraction=history)
    assert split.history is not None
    held_out = set(split.test.user.tolist()) | set(split.history.user.tolist())
    assert not held_out & set(split.train.user.tolist())
    for u in held_out:
        before = [e for e in events(split.history) if data.user[e] == u]
        after = [e for e in events(split.test) if data.user[e] == u]
        assert after, "a held-out user always has test events"
        if before:
            assert max(order_key(data, e) for e in before) < min(order_key(data, e) for e in after)
    eligible = int((np.bincount(data.user, minlength=data.n_users) >= 2).sum())
    if eligible:
        assert len(held_out) == max(1, int(np.floor(fraction * eligible + 0.5)))


@SETTINGS
@given(data=datasets(), k=st.integers(2, 5))
def test_k_fold_test_parts_cover_every_event_once(data: Dataset, k: int) -> None:
    folds = list(k_fold(data, k=k, seed=11))
    assert len(folds) == k and [f.params["fold"] for f in folds] == list(range(k))
    tests = np.concatenate([events(f.test) for f in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(len(data)))
    sizes = [len(f.test) for f in folds]
    assert max(sizes) - min(sizes) <= 1


def test_seed_changes_random_splits() -> None:
    data = dataset(list(range(50)), [0] * 50, [1] * 50, list(range(50)), 50, 1)
    a, b = random_holdout(data, seed=1), random_holdout(data, seed=2)
    assert len(a.test) == len(b.test) == 10
    assert set(events(a.test).tolist()) != set(events(b.test).tolist())


@pytest.mark.parametrize(
    "call",
    [
        lambda d: random_holdout(d, 0.0),
        lambda d: global_temporal(d, 1.0),
        lambda d: temporal_fraction(d, -0.1),
        lambda d: held_out_users(d, 0.2, history_fraction=1.0),
        lambda d: leave_last_out(d, n=0),
        lambda d: next(k_fold(d, k=1)),
    ],
)
def test_bad_parameters_are_refused(call: Callable[[Dataset], Split]) -> None:
    data = dataset([0, 0], [0, 1], [1, 1], [1, 2], 1, 2)
    with pytest.raises(ValueError):
        call(data)
