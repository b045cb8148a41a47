"""The evaluation protocol end to end, on the synthetic data with a known answer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recserve.algorithms import NotFittedError, Recommender, create
from recserve.data import Dataset
from recserve.evaluation import (
    evaluate_ranking,
    evaluate_ratings,
    held_out_users,
    k_fold,
    leave_last_out,
    mean_results,
    random_holdout,
)
from recserve.evaluation.protocol import ranking_targets, recommend_for
from recserve.evaluation.splitters import Split
from tests.evaluation.strategies import dataset
from tests.synthetic import make_synthetic


class Oracle(Recommender[Any]):
    """Scores each user's future positives highest: every ranking metric must reach 1.

    No ``family`` name, so it is not registered; it also predicts ratings as a global mean.
    """

    uses_history = True
    predicts_ratings = True

    def __init__(self, future: sp.csr_matrix, requests: np.ndarray | None = None):
        super().__init__()
        self.future = future
        self.requests = requests  # the dataset users of the next requests, for -1 users

    def _fit(self, data: Dataset) -> None:
        _, _, ratings = data.ratings()
        self.mean = float(ratings.mean())

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        rows = self.requests[: len(users)] if self.requests is not None else users
        return np.asarray(self.future[rows].todense(), dtype=np.float32) + 1e-3

    def predict_ratings(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.full(len(users), self.mean)

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        pass


@pytest.fixture(scope="module")
def data() -> Dataset:
    return make_synthetic()


@pytest.fixture(scope="module")
def split(data: Dataset) -> Split:
    return leave_last_out(data)


def test_item_knn_beats_popular_on_leave_last_out(split: Split) -> None:
    knn = evaluate_ranking(create("item_knn").fit(split.train), split)
    popular = evaluate_ranking(create("popular").fit(split.train), split)
    assert knn["users_evaluated"] == popular["users_evaluated"] == split.train.n_users
    for key in ("ndcg@10", "recall@10", "map@20", "mrr@20", "hit_rate@10"):
        assert knn[key] > popular[key] + 0.2, key
    assert knn["recall@20"] > 0.9
    for key in ("coverage@10", "novelty@10"):
        assert knn[key] > popular[key], key
    # item-kNN keeps to a user's taste block; the best sellers span several blocks
    assert knn["diversity@10"] < popular["diversity@10"]


def test_keys_and_bounds(split: Split) -> None:
    result = evaluate_ranking(create("item_knn").fit(split.train), split, k=(5, 10))
    names = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "coverage")
    for name in names:
        for k in (5, 10):
            assert 0.0 <= result[f"{name}@{k}"] <= 1.0
    assert result["novelty@5"] > 0 and "users_evaluated" in result
    assert not any(key.startswith("sampled_") for key in result)


def test_sampled_metrics_are_labelled_and_optimistic(split: Split) -> None:
    model = create("popular").fit(split.train)
    full = evaluate_ranking(model, split, k=10, metrics=("ndcg", "recall"))
    sampled = evaluate_ranking(model, split, k=10, metrics=("ndcg", "recall"), sampled_negatives=5)
    assert set(sampled) == {
        "sampled_ndcg@10",
        "sampled_recall@10",
        "sampled_negatives",
        "users_evaluated",
    }
    assert sampled["sampled_recall@10"] == 1.0, "6 candidates always fit in a top 10"
    assert sampled["sampled_ndcg@10"] > full["ndcg@10"]
    again = evaluate_ranking(model, split, k=10, metrics=("ndcg",), sampled_negatives=20, seed=0)
    assert again == evaluate_ranking(model, split, k=10, metrics=("ndcg",), sampled_negatives=20)


def test_sampled_metrics_of_item_knn_beat_popular(split: Split) -> None:
    scores = {
        family: evaluate_ranking(create(family).fit(split.train), split, sampled_negatives=30)
        for family in ("item_knn", "popular")
    }
    assert scores["item_knn"]["sampled_ndcg@10"] > scores["popular"]["sampled_ndcg@10"]


def test_oracle_scores_one(split: Split) -> None:
    oracle = Oracle(split.test.positive_matrix()).fit(split.train)
    result = evaluate_ranking(oracle, split, metrics=("ndcg", "map", "mrr", "hit_rate", "recall"))
    assert all(v == pytest.approx(1.0) for k, v in result.items() if "@" in k)
    sampled = evaluate_ranking(oracle, split, sampled_negatives=10, metrics=("ndcg", "mrr"))
    assert all(v == pytest.approx(1.0) for k, v in sampled.items() if "@" in k)


def test_seen_items_are_excluded_and_repeats_are_not_targets(split: Split) -> None:
    targets = ranking_targets(split)
    lists = recommend_for(create("popular").fit(split.train), targets, n=split.train.n_items)
    for row, user in enumerate(targets.users):
        seen = set(split.train.seen_matrix()[user].indices.tolist())
        assert not seen & set(lists[row].tolist())
        assert not seen & set(targets.relevant[row].indices.tolist())
    # a test positive on an item already liked in train is no target
    data = dataset([0, 0, 0, 1, 1], [0, 1, 0, 0, 1], [1, 1, 1, 1, 1], [1, 2, 3, 1, 2], 2, 3)
    repeat = leave_last_out(data)
    assert ranking_targets(repeat).users.tolist() == [1]


def test_held_out_users_are_asked_with_their_history(data: Dataset) -> None:
    split = held_out_users(data, test_fraction=0.3, seed=1)
    targets = ranking_targets(split)
    assert (targets.model_users == -1).all() and targets.history is not None
    assert targets.history.nnz > 0
    knn = evaluate_ranking(create("item_knn").fit(split.train), split, k=10)
    popular = evaluate_ranking(create("popular").fit(split.train), split, k=10)
    assert knn["users_evaluated"] > 0
    assert knn["ndcg@10"] > popular["ndcg@10"] + 0.2
    oracle = Oracle(split.test.positive_matrix(), requests=targets.users).fit(split.train)
    assert evaluate_ranking(oracle, split, k=10, metrics=("ndcg",), batch_size=10_000)[
        "ndcg@10"
    ] == pytest.approx(1.0)


def test_small_batches_give_the_same_result(split: Split) -> None:
    model = create("item_knn").fit(split.train)
    assert evaluate_ranking(model, split, batch_size=7) == evaluate_ranking(model, split)


def test_evaluate_ratings(data: Dataset) -> None:
    split = random_holdout(data, seed=3)
    oracle = Oracle(split.test.positive_matrix()).fit(split.train)
    result = evaluate_ratings(oracle, split)
    _, _, actual = split.test.ratings()
    _, _, train = split.train.ratings()
    assert result["ratings_evaluated"] == len(actual) > 0
    assert result["rmse"] == pytest.approx(np.sqrt(np.mean((actual - train.mean()) ** 2)))
    assert result["mae"] == pytest.approx(np.mean(np.abs(actual - train.mean())))
    with pytest.raises(ValueError, match="does not predict ratings"):
        evaluate_ratings(create("popular").fit(split.train), split)


def test_k_fold_rmse_averages_the_folds(data: Dataset) -> None:
    results = [
        evaluate_ratings(Oracle(f.test.positive_matrix()).fit(f.train), f)
        for f in k_fold(data, k=5, seed=0)
    ]
    mean = mean_results(results)
    assert mean["rmse"] == pytest.approx(np.mean([r["rmse"] for r in results]))
    assert mean["ratings_evaluated"] == pytest.approx(len(data) / 5)


def test_bad_requests_are_refused(split: Split, data: Dataset) -> None:
    model = create("popular").fit(split.train)
    with pytest.raises(ValueError, match="unknown metrics"):
        evaluate_ranking(model, split, metrics=("ndcg", "accuracy"))
    with pytest.raises(ValueError, match="positive"):
        evaluate_ranking(model, split, k=0)
    with pytest.raises(ValueError, match="sampled_negatives"):
        evaluate_ranking(model, split, sampled_negatives=0)
    with pytest.raises(NotFittedError):
        evaluate_ranking(create("popular"), split)
    other = dataset([0], [0], [1], [1.0], 1, 1)
    with pytest.raises(ValueError, match=r"fit it on split\.train"):
        evaluate_ranking(create("popular").fit(other), split)


def test_no_test_users_gives_nan_not_an_error(data: Dataset) -> None:
    nothing = dataset([0, 0], [0, 1], [1, 0], [1, 2], 1, 2)
    split = leave_last_out(nothing)
    result = evaluate_ranking(create("popular").fit(split.train), split)
    assert result["users_evaluated"] == 0 and math.isnan(result["ndcg@10"])
