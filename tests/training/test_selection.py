"""The holdout split and the promotion rule of training jobs."""

from __future__ import annotations

import numpy as np
import pytest

from recserve.algorithms import create
from recserve.data.dataset import POSITIVE
from recserve.evaluation import evaluate_ranking
from recserve.training import selection
from recserve.training.selection import Contender, Incumbent, decide, per_user_holdout
from tests.synthetic import make_synthetic


def test_per_user_holdout_is_seeded_and_keeps_each_user_in_train() -> None:
    data = make_synthetic()
    split = per_user_holdout(data, 0.2, seed=3)
    again = per_user_holdout(data, 0.2, seed=3)
    other = per_user_holdout(data, 0.2, seed=4)
    assert len(split.train) + len(split.test) == len(data)
    np.testing.assert_array_equal(split.test.item, again.test.item)
    assert not np.array_equal(split.test.item, other.test.item)
    assert (split.test.kind == POSITIVE).all()
    positive = data.user[data.kind == POSITIVE]
    for user in np.unique(positive):
        in_test = int((split.test.user == user).sum())
        total = int((positive == user).sum())
        assert (in_test >= 1 and in_test < total) if total >= 2 else in_test == 0
    assert split.name == "per_user_holdout" and split.params == {"test_fraction": 0.2, "seed": 3}


def test_jobs_rank_a_seeded_sample_of_the_holdout_users(monkeypatch: pytest.MonkeyPatch) -> None:
    split = per_user_holdout(make_synthetic())
    model = create("item_knn").fit(split.train)
    everyone = selection.evaluate(model, split)
    assert everyone["users_evaluated"] == everyone["users_eligible"] > 12
    assert everyone["sample_seed"] == selection.DEFAULT_SAMPLE_SEED
    monkeypatch.setattr(selection, "DEFAULT_EVAL_USERS", 12)
    sampled = selection.evaluate(model, split)
    assert sampled["users_evaluated"] == 12
    assert sampled["users_eligible"] == everyone["users_eligible"]
    expected = evaluate_ranking(
        model, split, k=10, metrics=selection.METRICS, max_users=12, sample_seed=0
    )
    assert sampled == pytest.approx(expected)
    assert selection.evaluate(model, split) == sampled  # the same users every time


def _c(name: str, ndcg: float, config: dict | None = None) -> Contender:
    return Contender(name, {"ndcg@10": ndcg}, "item_knn", config or {"neighbours": 10})


STATS = {"events": 10}


def test_if_better_promotes_only_a_strictly_better_candidate() -> None:
    champion = Incumbent("ease/v0001", {"ndcg@10": 0.3}, "ease", {"regularization": 1}, STATS)
    assert decide("recommended", [_c("knn", 0.2)], champion, "if_better", STATS).winner is None
    assert decide("recommended", [_c("knn", 0.3)], champion, "if_better", STATS).winner is None
    won = decide("recommended", [_c("a", 0.31), _c("b", 0.4)], champion, "if_better", STATS)
    assert won.winner == "b" and "beats" in won.reason
    assert decide("recommended", [_c("knn", 0.0)], None, "if_better", STATS).winner == "knn"
    assert decide("recommended", [_c("knn", 0.0)], champion, "always", STATS).winner == "knn"
    assert decide("recommended", [_c("knn", 0.9)], None, "never", STATS).winner is None


def test_the_champions_own_config_refitted_on_new_data_replaces_it() -> None:
    same = Incumbent("knn/v0001", {"ndcg@10": 0.3}, "item_knn", {"neighbours": 10}, STATS)
    fresh = decide("similar_items", [_c("knn", 0.3)], same, "if_better", {"events": 11})
    assert fresh.winner == "knn" and "newer data" in fresh.reason
    unchanged = decide("similar_items", [_c("knn", 0.3)], same, "if_better", STATS)
    assert unchanged.winner is None and "same data" in unchanged.reason
