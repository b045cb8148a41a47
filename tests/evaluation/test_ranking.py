"""Evaluation at catalogue scale: sampled users, bounded batches, sparse exclusions and the
argpartition top-k must give the lists and metrics a full sort over every user gives."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recserve.algorithms import create
from recserve.algorithms.base import top_n
from recserve.data import Dataset
from recserve.evaluation import evaluate_ranking, leave_last_out
from recserve.evaluation.protocol import ranking_targets, recommend_for, sample_targets
from recserve.evaluation.ranking import (
    recommend_batch,
    rows_per_batch,
    sample_rows,
    sparse_top_k,
)
from recserve.evaluation.splitters import Split
from tests.synthetic import make_synthetic


@pytest.fixture(scope="module")
def split() -> Split:
    return leave_last_out(make_synthetic())


def full_sort(scores: np.ndarray, n: int) -> np.ndarray:
    """The reference: a stable full sort per row (ties by lower index), -inf/NaN as -1."""
    clean = np.where(np.isnan(scores), -np.inf, scores)
    order = np.argsort(-clean, axis=1, kind="stable")[:, :n]
    ids = np.where(np.isfinite(np.take_along_axis(clean, order, axis=1)), order, -1)
    return np.pad(ids, ((0, 0), (0, n - ids.shape[1])), constant_values=-1)


@pytest.mark.parametrize("n", [1, 3, 10, 49, 50, 60])
def test_top_k_equals_the_full_sort_with_ties(n: int) -> None:
    rng = np.random.default_rng(n)
    scores = rng.integers(0, 4, size=(40, 50)).astype(np.float32)  # many ties
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    scores[rng.random(scores.shape) < 0.05] = np.nan
    scores[0] = 1.0  # one row all tied
    scores[1] = -np.inf  # one row with nothing to recommend
    ids, top = top_n(scores, n)
    np.testing.assert_array_equal(ids, full_sort(scores, n))
    real = ids >= 0
    np.testing.assert_array_equal(top[real], scores[np.nonzero(real)[0], ids[real]])
    assert np.isneginf(top[~real]).all()


def test_rows_per_batch_bounds_the_scores_held() -> None:
    assert rows_per_batch(2**20, 512) == 64  # 64 x 2**20 float32 = 256 MiB
    assert rows_per_batch(1_000, 512) == 512
    assert rows_per_batch(10**9, 512) == 1
    assert rows_per_batch(1_000, 512, memory_bytes=4 * 1_000 * 3) == 3


def test_sample_rows_is_seeded_and_covers_all_when_small() -> None:
    np.testing.assert_array_equal(sample_rows(5, 10, 0), np.arange(5))
    np.testing.assert_array_equal(sample_rows(5, None, 0), np.arange(5))
    first, again, other = (
        sample_rows(1000, 20, 1),
        sample_rows(1000, 20, 1),
        sample_rows(1000, 20, 2),
    )
    np.testing.assert_array_equal(first, again)
    assert len(set(first)) == 20 and (np.diff(first) > 0).all()
    assert not np.array_equal(first, other)
    with pytest.raises(ValueError, match="max_users"):
        sample_rows(5, 0, 0)


@pytest.mark.parametrize("family", ["item_knn", "popular", "als", "ease"])
def test_sample_covering_every_user_equals_the_full_run(split: Split, family: str) -> None:
    model = create(family).fit(split.train)
    full = evaluate_ranking(model, split, k=(5, 10))
    sampled = evaluate_ranking(model, split, k=(5, 10), max_users=10**6, sample_seed=3)
    assert sampled.pop("sample_seed") == 3
    assert sampled.pop("users_eligible") == full["users_evaluated"]
    assert sampled == full


def test_a_sample_ranks_its_users_as_the_full_run_does(split: Split) -> None:
    model = create("item_knn").fit(split.train)
    targets = ranking_targets(split)
    result = evaluate_ranking(model, split, k=10, max_users=7, sample_seed=5)
    assert result["users_evaluated"] == 7 and result["sample_seed"] == 5
    assert result["users_eligible"] == len(targets.users) > 7
    sample = sample_targets(targets, 7, 5)
    assert set(sample.users) < set(targets.users)
    everyone = recommend_for(model, targets, 10)
    rows = np.searchsorted(targets.users, sample.users)
    np.testing.assert_array_equal(recommend_for(model, sample, 10), everyone[rows])
    assert result == evaluate_ranking(model, split, k=10, max_users=7, sample_seed=5)
    assert evaluate_ranking(model, split, k=10, max_users=7, sample_seed=6) != result


@pytest.mark.parametrize("family", ["item_knn", "popular", "als"])
def test_memory_bounded_batches_give_identical_metrics(split: Split, family: str) -> None:
    model = create(family).fit(split.train)
    one_row = 4 * split.train.n_items
    assert evaluate_ranking(model, split, memory_bytes=one_row * 3) == evaluate_ranking(
        model, split
    )
    assert evaluate_ranking(model, split, memory_bytes=1) == evaluate_ranking(model, split)


@pytest.mark.parametrize("n", [1, 5, 30])
def test_sparse_top_k_equals_the_dense_one(n: int) -> None:
    rng = np.random.default_rng(n)
    dense = rng.integers(-2, 3, size=(30, 40)).astype(np.float32)  # ties, negatives
    dense[rng.random(dense.shape) < 0.6] = 0.0
    rows, cols = np.nonzero(dense)
    zero = int(np.flatnonzero(dense[0] == 0)[0])  # an explicitly stored zero counts as a zero
    scores = sp.csr_matrix(
        (np.r_[dense[rows, cols], 0.0], (np.r_[rows, 0], np.r_[cols, zero])), shape=dense.shape
    )
    assert scores.nnz == len(rows) + 1
    excluded = rng.random(dense.shape) < 0.3
    excluded[2] = True  # a row with everything excluded
    exclude = sp.csr_matrix(excluded, dtype=np.float32)
    signal = rng.random(30) < 0.9
    expected = np.where(exclude.toarray() > 0, -np.inf, dense)
    expected[~signal] = -np.inf
    ids, top = sparse_top_k(scores, n, exclude, signal)
    dense_ids, dense_top = top_n(expected, n)
    np.testing.assert_array_equal(ids, dense_ids)
    np.testing.assert_array_equal(top, dense_top)


@pytest.mark.parametrize("family", ["item_knn", "cooccurrence", "popular", "als", "latest"])
def test_exclusions_are_respected_and_lists_match_a_full_sort(split: Split, family: str) -> None:
    data: Dataset = split.train
    model = create(family).fit(data)
    users = np.arange(data.n_users)
    exclude = sp.csr_matrix(data.seen_matrix())
    ids, _ = recommend_batch(model, users, None, 10, exclude)
    for row in range(len(users)):
        assert not set(exclude[row].indices) & set(ids[row].tolist())
    scores = np.array(model.score(users), dtype=np.float32)
    scores[exclude.toarray() > 0] = -np.inf
    scores[~model.has_signal(users)] = -np.inf
    np.testing.assert_array_equal(ids, full_sort(scores, 10))


@pytest.mark.parametrize("family", ["item_knn", "cooccurrence", "ease", "als", "popular"])
def test_evaluation_ranks_what_a_request_gets(split: Split, family: str) -> None:
    """The offline lists are the served ones, ties included (one top-n for both)."""
    data: Dataset = split.train
    model = create(family).fit(data)
    exclude = sp.csr_matrix(data.seen_matrix())
    for user in range(0, data.n_users, 7):
        users = np.array([user])
        served, _ = model.recommend(users, None, 10, exclude[user])
        offline, _ = recommend_batch(model, users, None, 10, exclude[user])
        if model.has_signal(users)[0]:
            np.testing.assert_array_equal(offline, served)
