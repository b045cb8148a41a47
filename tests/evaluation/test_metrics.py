"""Metrics: hand-computed examples, a plain-Python reference, and Hypothesis properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from recserve.evaluation import metrics as M
from tests.evaluation.strategies import SETTINGS, rankings

ACCURACY = {
    "precision": M.precision_at_k,
    "recall": M.recall_at_k,
    "recall_capped": M.recall_capped_at_k,
    "ndcg": M.ndcg_at_k,
    "map": M.map_at_k,
    "mrr": M.mrr_at_k,
    "hit_rate": M.hit_rate_at_k,
}


def reference(name: str, ranked: list[int], relevant: set[int], k: int) -> float:
    """One user's metric the slow, obvious way."""
    ranked = ranked[:k]
    hits = [i >= 0 and i in relevant for i in ranked] + [False] * (k - len(ranked))
    n_hits, ideal = sum(hits), min(len(relevant), k)
    if name == "precision":
        return n_hits / k
    if name == "recall":
        return n_hits / len(relevant)
    if name == "recall_capped":
        return n_hits / ideal
    if name == "ndcg":
        dcg = sum(1 / math.log2(j + 2) for j, h in enumerate(hits) if h)
        return dcg / sum(1 / math.log2(j + 2) for j in range(ideal))
    if name == "map":
        return sum(sum(hits[: j + 1]) / (j + 1) for j, h in enumerate(hits) if h) / ideal
    if name == "mrr":
        return next((1 / (j + 1) for j, h in enumerate(hits) if h), 0.0)
    assert name == "hit_rate"
    return float(n_hits > 0)


def reference_mean(name: str, recommended: np.ndarray, relevant: list[set[int]], k: int) -> float:
    values = [
        reference(name, row.tolist(), rel, k)
        for row, rel in zip(recommended, relevant, strict=True)
        if rel
    ]
    return float(np.mean(values)) if values else float("nan")


# -- hand-computed ----------------------------------------------------------------------------

EXAMPLE = np.array([[1, 5, 2, -1], [4, 0, 3, 6]])
EXAMPLE_RELEVANT = [{2, 3, 7}, set()]  # the second user has no target: left out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("precision", 1 / 4),
        ("recall", 1 / 3),
        ("recall_capped", 1 / 3),
        ("ndcg", 0.5 / (1 + 1 / math.log2(3) + 0.5)),
        ("map", (1 / 3) / 3),
        ("mrr", 1 / 3),
        ("hit_rate", 1.0),
    ],
)
def test_hand_computed_accuracy(name: str, expected: float) -> None:
    assert ACCURACY[name](EXAMPLE, EXAMPLE_RELEVANT) == pytest.approx(expected)


def test_hand_computed_at_smaller_k_and_capped_recall() -> None:
    recommended = np.array([[3, 2, 9]])
    relevant = [{1, 2, 3, 4, 5}]
    assert M.recall_at_k(recommended, relevant, k=2) == pytest.approx(2 / 5)
    assert M.recall_capped_at_k(recommended, relevant, k=2) == pytest.approx(1.0)
    assert M.ndcg_at_k(recommended, relevant, k=2) == pytest.approx(1.0)
    assert M.map_at_k(recommended, relevant) == pytest.approx((1 + 1) / 3)
    assert M.precision_at_k(recommended, relevant, k=5) == pytest.approx(2 / 5)


def test_repeated_item_counts_once() -> None:
    assert M.precision_at_k(np.array([[2, 2, 2]]), [{2}]) == pytest.approx(1 / 3)
    assert M.recall_capped_at_k(np.array([[2, 2]]), [{2, 3}]) == pytest.approx(1 / 2)


def test_no_users_with_targets_gives_nan_without_warning() -> None:
    assert math.isnan(M.ndcg_at_k(np.array([[1, 2]]), [set()]))
    assert math.isnan(M.recall_at_k(np.empty((0, 3), dtype=np.int64), []))


def test_relevant_as_sparse_matrix_equals_sets() -> None:
    relevant = sp.csr_matrix(np.array([[0, 0, 1, 1, 0, 0, 0, 1], [0] * 8], dtype=np.float32))
    for name, metric in ACCURACY.items():
        assert metric(EXAMPLE, relevant) == pytest.approx(metric(EXAMPLE, EXAMPLE_RELEVANT)), name


def test_rows_must_match() -> None:
    with pytest.raises(ValueError, match="rows"):
        M.ndcg_at_k(EXAMPLE, [{1}])


def test_beyond_accuracy_by_hand() -> None:
    recommended = np.array([[0, 1], [1, 2]])
    assert M.catalogue_coverage(recommended, 10) == pytest.approx(0.3)
    counts = np.array([4, 2, 1, 0])
    assert M.novelty(np.array([[0, 1]]), counts, 4) == pytest.approx(0.5)
    assert M.novelty(np.array([[3, -1]]), counts, 4) == pytest.approx(2.0)  # unseen: one user
    vectors = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    assert M.intra_list_diversity(np.array([[0, 1, 2]]), vectors) == pytest.approx(2 / 3)
    assert M.intra_list_diversity(np.array([[0, 1, 2]]), sp.csr_matrix(vectors)) == pytest.approx(
        2 / 3
    )
    assert math.isnan(M.intra_list_diversity(np.array([[0, -1]]), vectors))  # no pairs
    with pytest.raises(ValueError, match="outside"):
        M.catalogue_coverage(np.array([[0, 10]]), 10)


def test_ratings_and_ctr_by_hand() -> None:
    assert M.rmse(np.array([1, 2, 3]), np.array([1, 3, 5])) == pytest.approx(math.sqrt(5 / 3))
    assert M.mae(np.array([1, 2, 3]), np.array([1, 3, 5])) == pytest.approx(1.0)
    assert math.isnan(M.rmse(np.array([]), np.array([])))
    assert M.auc(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.3, 0.1])) == pytest.approx(0.75)
    assert M.auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert math.isnan(M.auc(np.array([1, 1]), np.array([0.2, 0.3])))
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    assert M.log_loss(np.array([1, 0]), np.array([0.8, 0.4])) == pytest.approx(expected)
    assert np.isfinite(M.log_loss(np.array([1, 0]), np.array([0.0, 1.0])))  # clipped
    with pytest.raises(ValueError, match="0 or 1"):
        M.auc(np.array([2, 0]), np.array([0.1, 0.2]))


def test_accuracy_metrics_keys_at_scale() -> None:
    """1,000 users x K=20 over 5,000 items: every metric at every K (speed: benchmarks)."""
    rng = np.random.default_rng(0)
    n_users, n_items, k = 1000, 5000, 20
    recommended = rng.integers(-1, n_items, (n_users, k))
    relevant = sp.random(n_users, n_items, density=0.01, format="csr", random_state=1)
    vectors = sp.random(n_items, 300, density=0.05, format="csr", random_state=2)
    result = M.accuracy_metrics(recommended, relevant, ks=(10, 20))
    diversity = M.intra_list_diversity(recommended, vectors)
    novelty = M.novelty(recommended, rng.integers(0, 50, n_items), 1000)
    assert set(result) == {f"{m}@{k}" for m in M.ACCURACY_METRICS for k in (10, 20)}
    assert all(0.0 <= value <= 1.0 for value in result.values())
    assert 0.0 <= diversity <= 1.0 and novelty > 0


# -- properties -------------------------------------------------------------------------------


@SETTINGS
@given(rankings())
def test_matches_the_plain_reference(case: tuple[np.ndarray, list[set[int]], int]) -> None:
    recommended, relevant, _ = case
    k = recommended.shape[1]
    for name, metric in ACCURACY.items():
        for at in {1, k, k + 2}:
            expected = reference_mean(name, recommended, relevant, at)
            got = metric(recommended, relevant, at)
            assert got == pytest.approx(expected, nan_ok=True), (name, at)


@SETTINGS
@given(rankings())
def test_accuracy_bounded_in_unit_interval(case: tuple[np.ndarray, list[set[int]], int]) -> None:
    recommended, relevant, n_items = case
    for metric in ACCURACY.values():
        value = metric(recommended, relevant)
        assert math.isnan(value) == (not any(relevant))
        assert math.isnan(value) or 0.0 <= value <= 1.0 + 1e-12
    assert 0.0 <= M.catalogue_coverage(recommended, n_items) <= 1.0


@SETTINGS
@given(rankings(min_relevant=1), st.integers(1, 8))
def test_perfect_ranking_scores_one(case: tuple[np.ndarray, list[set[int]], int], k: int) -> None:
    _, relevant, _ = case
    perfect = np.full((len(relevant), k), -1)
    for u, rel in enumerate(relevant):
        best = sorted(rel)[:k]
        perfect[u, : len(best)] = best
    for name in ("ndcg", "map", "mrr", "hit_rate", "recall_capped"):
        assert ACCURACY[name](perfect, relevant) == pytest.approx(1.0), name
    expected_recall = np.mean([min(len(r), k) / len(r) for r in relevant])
    assert M.recall_at_k(perfect, relevant) == pytest.approx(expected_recall)


@SETTINGS
@given(rankings(min_relevant=1))
def test_no_relevant_item_in_the_list_scores_zero(
    case: tuple[np.ndarray, list[set[int]], int],
) -> None:
    recommended, relevant, _ = case
    misses = np.where(np.isin(recommended, list(set().union(*relevant))), -1, recommended)
    for name, metric in ACCURACY.items():
        assert metric(misses, relevant) == 0.0, name


@SETTINGS
@given(rankings(), st.integers(1, 5))
def test_padding_changes_nothing(case: tuple[np.ndarray, list[set[int]], int], extra: int) -> None:
    recommended, relevant, _ = case
    k = recommended.shape[1]
    padded = np.pad(recommended, ((0, 0), (0, extra)), constant_values=-1)
    for metric in ACCURACY.values():
        assert metric(padded, relevant, k) == pytest.approx(
            metric(recommended, relevant), nan_ok=True
        )
        assert metric(padded, relevant) == pytest.approx(
            metric(recommended, relevant, k + extra), nan_ok=True
        )


@SETTINGS
@given(rankings())
def test_precision_times_k_is_hits_and_mrr_is_first_hit(
    case: tuple[np.ndarray, list[set[int]], int],
) -> None:
    recommended, relevant, _ = case
    k = recommended.shape[1]
    hits, n_rel = M.hit_matrix(recommended, relevant)
    precision = M.per_user("precision", hits, n_rel)
    mrr = M.per_user("mrr", hits, n_rel)
    for u, (row, rel) in enumerate(zip(recommended, relevant, strict=True)):
        if not rel:
            assert math.isnan(precision[u]) and math.isnan(mrr[u])
            continue
        found = [j for j, i in enumerate(row) if i in rel]
        assert precision[u] * k == pytest.approx(len(found))
        assert mrr[u] == pytest.approx(1 / (found[0] + 1) if found else 0.0)


@SETTINGS
@given(rankings())
def test_sparse_and_set_relevance_agree(case: tuple[np.ndarray, list[set[int]], int]) -> None:
    recommended, relevant, n_items = case
    rows = [u for u, rel in enumerate(relevant) for _ in rel]
    cols = [i for rel in relevant for i in rel]
    matrix = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(relevant), n_items))
    for metric in ACCURACY.values():
        assert metric(recommended, matrix) == pytest.approx(
            metric(recommended, relevant), nan_ok=True
        )


@SETTINGS
@given(rankings(), st.integers(1, 6))
def test_novelty_and_diversity_bounds(
    case: tuple[np.ndarray, list[set[int]], int], n_users: int
) -> None:
    recommended, _, n_items = case
    rng = np.random.default_rng(n_items)
    counts = rng.integers(0, n_users + 1, n_items)
    value = M.novelty(recommended, counts, n_users)
    assert math.isnan(value) or 0.0 <= value <= math.log2(n_users) + 1e-9
    vectors = rng.integers(0, 2, (n_items, 4)).astype(float)
    diversity = M.intra_list_diversity(recommended, vectors)
    assert math.isnan(diversity) or -1e-9 <= diversity <= 1.0 + 1e-9
    same = np.ones((n_items, 3))
    identical = M.intra_list_diversity(recommended, same)
    assert math.isnan(identical) or identical == pytest.approx(0.0, abs=1e-9)


@SETTINGS
@given(
    st.lists(st.tuples(st.floats(-5, 5), st.floats(-5, 5)), min_size=1, max_size=30),
)
def test_rmse_at_least_mae(pairs: list[tuple[float, float]]) -> None:
    predicted, actual = (np.array(c) for c in zip(*pairs, strict=True))
    assert M.rmse(predicted, actual) >= M.mae(predicted, actual) - 1e-12 >= -1e-12
    assert M.rmse(actual, actual) == 0.0


@SETTINGS
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=2, max_size=30))
def test_auc_is_the_pairwise_win_rate(pairs: list[tuple[bool, int]]) -> None:
    labels = np.array([p[0] for p in pairs], dtype=float)
    scores = np.array([p[1] for p in pairs], dtype=float)
    positives, negatives = scores[labels == 1], scores[labels == 0]
    value = M.auc(labels, scores)
    if not len(positives) or not len(negatives):
        assert math.isnan(value)
        return
    wins = (positives[:, None] > negatives[None, :]) + 0.5 * (positives[:, None] == negatives)
    assert value == pytest.approx(wins.mean())
    assert M.auc(labels, -scores) == pytest.approx(1.0 - value)
    probabilities = np.clip(scores / 5.0, 0, 1)
    assert M.log_loss(labels, probabilities) >= 0.0
