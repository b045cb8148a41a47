from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recserve.algorithms import Recommender, create
from recserve.config import default_feedback_types
from recserve.data import Dataset
from tests.algorithms.behaviour import RecommenderBehaviour


class TestCooccurrenceLift(RecommenderBehaviour):
    family = "cooccurrence"
    params = {"normalisation": "lift", "neighbours": 20}


class TestCooccurrenceConditional(RecommenderBehaviour):
    family = "cooccurrence"
    params = {"normalisation": "conditional", "neighbours": 20, "session_gap_minutes": 600}


HOUR = 3600.0


def _purchases(baskets: dict[str, list[tuple[str, float]]]) -> Dataset:
    rows = [(user, item, t) for user, events in baskets.items() for item, t in events]
    users, items, times = zip(*rows, strict=True)
    return Dataset.from_events(
        np.array(users, dtype=object),
        np.array(items, dtype=object),
        np.full(len(rows), "purchase", dtype=object),
        np.full(len(rows), np.nan),
        np.array(times),
        default_feedback_types(),
    )


# baskets {A,B,C}, {A,B}, {B,C}, {A}: N = 4, n_A = 3, n_B = 3, n_C = 2,
# n_AB = 2, n_AC = 1, n_BC = 2 (a repeat purchase counts once)
BASKETS = {
    "u0": [("A", 0.0), ("B", 1.0), ("C", 2.0), ("A", 3.0)],
    "u1": [("A", 0.0), ("B", 1.0)],
    "u2": [("B", 0.0), ("C", 1.0)],
    "u3": [("A", 0.0)],
}


def _pairs(model: Recommender[Any], data: Dataset) -> dict[tuple[str, str], float]:
    m = model.similarity.tocoo()  # type: ignore[attr-defined]
    ids = data.items.ids
    return {(ids[i], ids[j]): float(v) for i, j, v in zip(m.row, m.col, m.data, strict=True)}


def test_conditional_probability_by_hand() -> None:
    data = _purchases(BASKETS)
    model = create("cooccurrence", normalisation="conditional", min_count=1).fit(data)
    assert _pairs(model, data) == pytest.approx(
        {
            ("A", "B"): 2 / 3, ("A", "C"): 1 / 3,
            ("B", "A"): 2 / 3, ("B", "C"): 2 / 3,
            ("C", "A"): 1 / 2, ("C", "B"): 1.0,
        }
    )  # fmt: skip


def test_lift_by_hand_and_min_count() -> None:
    data = _purchases(BASKETS)
    model = create("cooccurrence", normalisation="lift", min_count=1).fit(data)
    lift = {("A", "B"): 8 / 9, ("A", "C"): 2 / 3, ("B", "C"): 4 / 3}
    expected = {**lift, **{(b, a): v for (a, b), v in lift.items()}}
    assert _pairs(model, data) == pytest.approx(expected)
    # the pair seen in one basket only goes with min_count=2
    strict = create("cooccurrence", normalisation="lift", min_count=2).fit(data)
    assert set(_pairs(strict, data)) == {("A", "B"), ("B", "A"), ("B", "C"), ("C", "B")}


def test_sessions_cut_at_pauses() -> None:
    # u0 buys A and B in one visit, C a day later; u1 buys A then C a day later
    data = _purchases(
        {
            "u0": [("A", 0.0), ("B", 0.1 * HOUR), ("C", 24 * HOUR)],
            "u1": [("A", 0.0), ("C", 24 * HOUR)],
        }
    )
    per_user = create("cooccurrence", normalisation="conditional", min_count=1).fit(data)
    assert ("A", "C") in _pairs(per_user, data)
    per_session = create(
        "cooccurrence", normalisation="conditional", min_count=1, session_gap_minutes=60
    ).fit(data)
    assert _pairs(per_session, data) == pytest.approx({("A", "B"): 1 / 2, ("B", "A"): 1.0})


def test_history_scores_are_the_sum_of_neighbour_rows() -> None:
    data = _purchases(BASKETS)
    model = create("cooccurrence", normalisation="conditional", min_count=1).fit(data)
    a, c = data.items.get("A"), data.items.get("C")
    history = np.zeros((1, data.n_items), np.float32)
    history[0, [a, c]] = 1.0
    scores = model.score(np.array([-1]), sp.csr_matrix(history))[0]
    b = data.items.get("B")
    assert scores[b] == pytest.approx(2 / 3 + 1.0)  # P(B|A) + P(B|C)
    ids, _ = model.similar_items(np.array([c]), n=2)
    assert data.items.id_of(ids[0]).tolist() == ["B", "A"]


@pytest.mark.parametrize("block_entries", [1, 100, 1000])
def test_blocks_sized_by_basket_entries_give_the_same_similarity(
    monkeypatch: pytest.MonkeyPatch, block_entries: int
) -> None:
    from recserve.algorithms import similarity
    from tests.synthetic import make_synthetic

    data = make_synthetic()
    whole = create("cooccurrence", neighbours=5).fit(data).similarity
    monkeypatch.setattr(similarity, "BLOCK_ENTRIES", block_entries)
    blocked = create("cooccurrence", neighbours=5).fit(data).similarity
    assert (blocked != whole).nnz == 0


def test_sparse_rows_make_few_blocks_in_a_wide_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    from recserve.algorithms import similarity

    n = 1000  # each row of the block similarity has two entries: itself and the next row
    pairs = sp.csr_matrix(sp.eye(n) + sp.eye(n, k=1) * 0.5, dtype=np.float32)
    blocks: list[tuple[int, int]] = []

    def block(start: int, stop: int) -> sp.csr_matrix:
        blocks.append((start, stop))
        return pairs[start:stop]

    monkeypatch.setattr(similarity, "BLOCK_ENTRIES", 100)
    knn = similarity.blockwise_knn(n, n, 3, block, row_entries=np.full(n, 2.0))
    assert blocks == [(start, start + 50) for start in range(0, n, 50)]
    assert (knn != similarity.top_k_rows(pairs, 3)).nnz == 0
    blocks.clear()  # without the bound a row counts as dense: one row per block
    similarity.blockwise_knn(n, n, 3, block)
    assert len(blocks) == n
