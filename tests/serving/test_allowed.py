"""The allowed-items set of one request: the sparse form (left-out indices) and the dense
form (a mask) must answer alike, and the request path built on them must match a plain
dense reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recserve.data import Vocabulary
from recserve.serving.allowed import Allowed, BlockedItems, false_indices
from recserve.serving.catalogue import ItemCatalogue
from recserve.serving.filters import parse_filter
from recserve.serving.options import ListOptions
from recserve.serving.pipeline import (
    allowed_items,
    exclusion_row,
    filtered_neighbours,
    from_scores,
    ranking_source,
)


def _check(allowed: Allowed, expected: np.ndarray) -> None:
    """Every view of ``allowed`` agrees with the dense ``expected`` mask."""
    assert allowed.mask().tolist() == expected.tolist()
    assert allowed.dropped().tolist() == np.flatnonzero(~expected).tolist()
    everything = np.arange(len(expected))
    assert allowed.contains(everything).tolist() == expected.tolist()
    row = exclusion_row(allowed)
    assert row.shape == (1, len(expected))
    assert row.toarray()[0].astype(bool).tolist() == (~expected).tolist()


def test_false_indices_match_numpy() -> None:
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 8, 9, 17, 1003):
        for dropped in (0.0, 0.01, 0.5, 1.0):
            mask = rng.random(n) >= dropped
            assert false_indices(mask).tolist() == np.flatnonzero(~mask).tolist()


def test_sparse_and_narrowed_sets_agree_with_a_dense_reference() -> None:
    rng = np.random.default_rng(1)
    for n in (1, 9, 64, 1001):
        for _ in range(5):
            parts = [rng.integers(-1, n, size=rng.integers(0, 6)) for _ in range(3)]
            expected = np.ones(n, dtype=bool)
            for part in parts:
                expected[part[part >= 0]] = False
            allowed = Allowed.all_but(n, *parts)
            assert not allowed.narrow
            _check(allowed, expected)

            more = rng.integers(-1, n, size=4)
            expected_more = expected.copy()
            expected_more[more[more >= 0]] = False
            _check(allowed.without(more), expected_more)
            _check(allowed, expected)  # immutable: ``without`` made a new set

            keep = rng.random(n) < 0.7
            narrowed = allowed.narrowed(keep).without(more)
            assert narrowed.narrow
            _check(narrowed, expected_more & keep)
            other = rng.random(n) < 0.5
            _check(narrowed.narrowed(other), expected_more & keep & other)
            _check(Allowed.nothing(n), np.zeros(n, dtype=bool))


def test_blocked_items_keep_sorted_indices_in_step_with_the_mask() -> None:
    rng = np.random.default_rng(2)
    mask = rng.random(500) < 0.05
    blocked = BlockedItems(mask)
    assert len(blocked) == 500
    for _ in range(300):
        index, state = int(rng.integers(0, 500)), bool(rng.random() < 0.5)
        blocked.set(index, state)
        mask[index] = state
        assert blocked.indices.tolist() == np.flatnonzero(mask).tolist()
        assert blocked[index] is state
    with pytest.raises(ValueError):
        blocked.indices[0] = 1  # shared by concurrent requests: read-only
    grown = blocked.extended(np.array([True, False, True]))
    assert grown.indices.tolist() == [*np.flatnonzero(mask).tolist(), 500, 502]
    assert blocked.indices.tolist() == np.flatnonzero(mask).tolist()


ITEMS = Vocabulary([f"i{k:03d}" for k in range(40)])
ROWS: dict[str, dict[str, Any]] = {
    f"i{k:03d}": {"categories": ["even" if k % 2 == 0 else "odd"], "attributes": {"p": k}}
    for k in range(40)
}


@pytest.mark.parametrize(
    "options",
    [
        ListOptions(),
        ListOptions(exclude_seen=False),
        ListOptions(exclude=("i001", "i002", "nope")),
        ListOptions(category="even"),
        ListOptions(filter=parse_filter("p < 20"), exclude=("i004",)),
        ListOptions(include=("i003", "i005", "i006", "nope"), exclude=("i005",)),
        ListOptions(category="odd", include=("i003", "i004", "i007")),
    ],
)
def test_allowed_items_match_a_dense_reference(options: ListOptions) -> None:
    blocked_mask = np.zeros(40, dtype=bool)
    blocked_mask[[0, 7, 31]] = True
    seen = sp.csr_matrix((np.ones(3), ([0, 0, 0], [3, 8, 9])), shape=(1, 40))
    catalogue = ItemCatalogue(ITEMS, ROWS)
    built: list[int] = []

    def lazy() -> ItemCatalogue:
        built.append(1)
        return catalogue

    allowed = allowed_items(BlockedItems(blocked_mask), ITEMS, lazy, options, seen)
    k = np.arange(40)
    expected = ~blocked_mask
    if options.exclude_seen:
        expected[[3, 8, 9]] = False
    expected[ITEMS.index(options.exclude)[ITEMS.index(options.exclude) >= 0]] = False
    if options.category is not None:
        expected &= (k % 2 == 0) if options.category == "even" else (k % 2 == 1)
    if options.filter is not None:
        expected &= k < 20
    if options.include:
        keep = np.isin(ITEMS.ids, options.include)
        expected &= keep
    _check(allowed, expected)
    assert allowed.narrow == bool(options.category or options.filter or options.include)
    assert bool(built) == bool(options.category or options.filter)  # catalogue only if asked


def test_top_items_and_neighbours_skip_what_is_not_allowed() -> None:
    rng = np.random.default_rng(3)
    scores = rng.random(50).astype(np.float32)
    left_out = np.array([int(np.argmax(scores)), 4, 9])
    for allowed in (
        Allowed.all_but(50, left_out),
        Allowed.all_but(50, left_out).narrowed(np.arange(50) % 3 != 0),
    ):
        mask = allowed.mask()
        ids, top = from_scores(scores, allowed, 5)
        expected = np.argsort(-np.where(mask, scores, -np.inf), kind="stable")[:5]
        assert ids.tolist() == expected.tolist()
        assert top.tolist() == scores[expected].tolist()
        order = np.argsort(-scores, kind="stable")

        def neighbours(k: int, order: np.ndarray = order) -> tuple[np.ndarray, np.ndarray]:
            return order[:k], scores[order[:k]]

        ids, _ = filtered_neighbours(neighbours, allowed, 5)
        assert ids.tolist() == [i for i in order if mask[i]][:5]


@pytest.mark.parametrize("ties", [False, True])
def test_a_global_ranking_re_scores_only_its_head_and_changed_items(ties: bool) -> None:
    rng = np.random.default_rng(4)
    n = 2000
    for _ in range(20):
        trained = (rng.integers(0, 30, n) if ties else rng.random(n)).astype(np.float32)
        order = np.argsort(-trained, kind="stable")
        changed = np.unique(rng.integers(0, n, rng.integers(0, 12)))
        counts = np.zeros(n, dtype=np.float32)
        counts[changed] = rng.integers(1, 40, len(changed))
        live = trained + counts
        asked: list[int] = []

        def scores_at(
            at: np.ndarray, live: np.ndarray = live, asked: list[int] = asked
        ) -> np.ndarray:
            asked.append(len(at))
            return live[at]

        source = ranking_source(order, scores_at, changed)
        head = order[:5]
        for allowed in (
            Allowed.all_but(n),
            Allowed.all_but(n, head[:3], rng.integers(0, n, 20)),
            Allowed.all_but(n, changed).narrowed(np.arange(n) % 2 == 0),
        ):
            asked.clear()
            ids, scores = source(allowed, 10)
            expected_ids, expected_scores = from_scores(live, allowed, 10)
            assert scores.tolist() == expected_scores.tolist()
            assert allowed.contains(ids).all() and len(set(ids.tolist())) == 10
            assert np.array_equal(live[ids], scores)
            if not ties:
                assert ids.tolist() == expected_ids.tolist()
            if not allowed.narrow:  # a few dozen items re-scored, not the catalogue
                assert asked == [
                    len(np.union1d(order[: 10 + len(allowed.dropped()) + len(changed)], changed))
                ]
