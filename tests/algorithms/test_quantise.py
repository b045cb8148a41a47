from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recserve.algorithms import create
from recserve.algorithms.base import ModelConfig, Recommender
from recserve.algorithms.neural import quantise as q
from recserve.algorithms.neural.quantise import QuantisedScorer, QuantisedTable, quantise
from recserve.data import Dataset
from recserve.evaluation.protocol import evaluate_ranking
from recserve.evaluation.splitters import leave_last_out
from tests.synthetic import make_synthetic


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    rng = np.random.default_rng(0)
    scales = rng.uniform(0.1, 3, (5000, 1))
    return (rng.standard_normal((5000, 64)) * scales).astype(np.float32)


def top10(scores: np.ndarray) -> np.ndarray:
    return np.argpartition(-scores, 10, axis=1)[:, :10]


def test_int8_round_trip_error_is_bounded(table: np.ndarray) -> None:
    t = quantise(table, "int8")
    assert t.data.dtype == np.int8 and t.scale is not None and t.scale.dtype == np.float32
    error = np.abs(t.to_float() - table)
    half_step = t.scale[:, None] / 2
    assert (error <= half_step * (1 + 1e-5) + 1e-7).all()
    # the largest entry of every row is exact (it defines the scale)
    peak = np.argmax(np.abs(table), axis=1)
    rows = np.arange(len(table))
    np.testing.assert_allclose(t.to_float()[rows, peak], table[rows, peak], rtol=1e-6)
    relative = np.linalg.norm(t.to_float() - table, axis=1) / np.linalg.norm(table, axis=1)
    assert relative.max() < 0.02


def test_float16_round_trip(table: np.ndarray) -> None:
    t = quantise(table, "float16")
    assert t.data.dtype == np.float16 and t.scale is None
    np.testing.assert_allclose(t.to_float(), table, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_top10_overlap_with_float32(table: np.ndarray, dtype: Any) -> None:
    queries = np.random.default_rng(1).standard_normal((200, 64)).astype(np.float32)
    exact = top10(queries @ table.T)
    approx = top10(quantise(table, dtype).dot(queries))
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approx, strict=True)])
    assert overlap >= 0.9


def test_memory_ratios(table: np.ndarray) -> None:
    full, half, int8 = (quantise(table, d) for d in ("float32", "float16", "int8"))
    assert full.nbytes == table.nbytes
    assert full.nbytes / half.nbytes == 2
    assert int8.scale is not None
    assert full.data.nbytes / int8.data.nbytes == 4
    assert int8.nbytes == int8.data.nbytes + 4 * len(table)  # one float32 scale per row
    assert full.nbytes / int8.nbytes > 3.7  # 256 / (64 + 4) bytes per row at 64 dims


def test_dot_works_slice_by_slice(table: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(q, "SLICE_ELEMENTS", 64 * 37)  # 37 rows at a time, uneven last slice
    monkeypatch.setattr(q, "MIN_SLICE_ELEMENTS", 64 * 37)
    queries = np.random.default_rng(2).standard_normal((3, 64)).astype(np.float32)
    for dtype in ("float16", "int8"):
        t = quantise(table, dtype)
        np.testing.assert_allclose(t.dot(queries), queries @ t.to_float().T, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(t.dot(queries[0]), t.dot(queries)[:1], rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError):
        quantise(table, "int8").dot(queries[:, :10])


def test_edge_cases_and_refusals() -> None:
    zeros = quantise(np.zeros((3, 4)), "int8")
    assert (zeros.to_float() == 0).all() and (zeros.dot(np.ones((1, 4))) == 0).all()
    empty = quantise(np.zeros((0, 8)), "int8")
    assert empty.dot(np.ones((2, 8))).shape == (2, 0)
    with pytest.raises(ValueError, match="NaN"):
        quantise(np.array([[1.0, np.nan]]), "int8")
    with pytest.raises(ValueError, match="float16"):
        quantise(np.array([[1e6, 0.0]]), "float16")
    with pytest.raises(ValueError):
        quantise(np.ones(4), "int8")
    with pytest.raises(ValueError, match="unknown"):
        quantise(np.ones((2, 2)), "int4")  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_named_arrays_round_trip(table: np.ndarray, dtype: Any) -> None:
    t = quantise(table[:50], dtype)
    again = QuantisedTable.from_arrays("items", t.arrays("items"))
    assert again.dtype == dtype and again.nbytes == t.nbytes
    np.testing.assert_array_equal(again.to_float(), t.to_float())


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float32,
        st.tuples(st.integers(1, 6), st.integers(1, 9)),
        elements=st.floats(-1e4, 1e4, width=32),
    )
)
def test_int8_error_never_exceeds_half_a_step(matrix: np.ndarray) -> None:
    t = quantise(matrix, "int8")
    assert t.scale is not None
    error = np.abs(t.to_float().astype(np.float64) - matrix)
    bound = t.scale.astype(np.float64)[:, None] * (0.5 + 1e-3) + 1e-30
    assert (error <= bound).all()


# -- serving a model from a quantised table ---------------------------------------------------

FAST = {"use_text": False, "epochs": 12, "batch_size": 64, "validation_fraction": 0.0, "threads": 1}


@pytest.fixture(scope="module")
def data() -> Dataset:
    return make_synthetic()


@pytest.fixture(scope="module")
def two_tower(data: Dataset) -> Recommender[Any]:
    split = leave_last_out(data, n=2)
    return create("two_tower", **FAST).fit(split.train)


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_quantised_two_tower_keeps_its_accuracy(
    two_tower: Recommender[Any], data: Dataset, dtype: Any
) -> None:
    split = leave_last_out(data, n=2)
    scorer = QuantisedScorer(two_tower, dtype)
    assert scorer.family == f"two_tower[{dtype}]" and scorer.uses_history
    full = evaluate_ranking(two_tower, split, k=10, metrics=("ndcg",))["ndcg@10"]
    small = evaluate_ranking(scorer, split, k=10, metrics=("ndcg",))["ndcg@10"]
    assert small >= full - 0.02
    users = np.arange(12)
    seen = split.train.seen_matrix()[users]
    a, _ = two_tower.recommend(users, n=5, exclude=seen)
    b, _ = scorer.recommend(users, n=5, exclude=seen)
    assert np.mean([len(set(x) & set(y)) / 5 for x, y in zip(a, b, strict=True)]) >= 0.9
    # request-time history and the fallback contract go through the wrapper
    history = sp.csr_matrix(([1.0], ([0], [30])), shape=(2, data.n_items))
    ids, _ = scorer.recommend(np.array([-1, -1]), history, n=3)
    assert (ids[0] >= 0).all() and (ids[1] == -1).all()


class _Factors(Recommender[ModelConfig]):
    """A bare factor model (no family: not registered) scored as user_factors @ item_factors."""

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray, dot: bool = True):
        super().__init__(ModelConfig())
        self.user_factors, self.item_factors, self.dot = user_factors, item_factors, dot

    def _fit(self, data: Dataset) -> None:
        pass

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        scores = self.user_factors[np.clip(users, 0, None)] @ self.item_factors.T
        return scores if self.dot else scores + 1.0

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        pass


def test_any_model_with_user_and_item_factors(data: Dataset) -> None:
    rng = np.random.default_rng(0)
    model = _Factors(
        rng.standard_normal((data.n_users, 16)).astype(np.float32),
        rng.standard_normal((data.n_items, 16)).astype(np.float32),
    ).fit(data)
    scorer = QuantisedScorer(model, "int8")
    users = np.arange(20)
    np.testing.assert_allclose(scorer.score(users), model.score(users), rtol=0.05, atol=0.1)
    ids, _ = scorer.recommend(np.array([-1, 3]), n=4)
    assert (ids[0] == -1).all() and (ids[1] >= 0).all()
    assert QuantisedScorer(model, "float16").table.nbytes * 2 == data.n_items * 16 * 4
    with pytest.raises(TypeError):
        scorer.save(None)  # type: ignore[arg-type]


def test_models_that_are_not_a_dot_product_are_refused(data: Dataset) -> None:
    rng = np.random.default_rng(0)
    shifted = _Factors(
        rng.standard_normal((data.n_users, 4)).astype(np.float32),
        rng.standard_normal((data.n_items, 4)).astype(np.float32),
        dot=False,
    ).fit(data)
    with pytest.raises(ValueError, match="not query @ item table"):
        QuantisedScorer(shifted, "int8")
    with pytest.raises(ValueError, match="no item table"):
        QuantisedScorer(create("item_knn").fit(data), "int8")
