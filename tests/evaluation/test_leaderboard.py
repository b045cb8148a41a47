"""The leaderboard on the synthetic data, whose right answers are obvious."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recserve.algorithms import FAMILIES, ModelConfig, Recommender
from recserve.config import default_feedback_types
from recserve.data import Dataset
from recserve.evaluation import held_out_users
from recserve.evaluation.leaderboard import (
    DataProfile,
    Leaderboard,
    ModelSpec,
    default_specs,
    parse_ks,
    parse_models,
    run_leaderboard,
    skip_reason,
)
from tests.synthetic import make_synthetic

FAKE = "test_item_mean"


class ItemMean(Recommender[ModelConfig]):
    """Predicts an item's mean training rating (global mean for unrated items); ranks by it."""

    predicts_ratings = True
    personalised = False

    def _fit(self, data: Dataset) -> None:
        _, items, ratings = data.ratings()
        sums = np.bincount(items, weights=ratings, minlength=data.n_items)
        counts = np.bincount(items, minlength=data.n_items)
        self.mean = float(ratings.mean()) if len(ratings) else 0.0
        self.means = np.where(counts > 0, sums / np.maximum(counts, 1), self.mean)

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.means.astype(np.float32), (len(users), 1))

    def predict_ratings(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        items = np.asarray(items)
        return np.where(items >= 0, self.means[np.clip(items, 0, None)], self.mean)

    def _state(self) -> dict[str, np.ndarray]:
        return {"means": self.means}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.means = arrays["means"]


ItemMean.family = FAKE  # set after class creation: not registered for every other test


@pytest.fixture
def rating_family(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setitem(FAMILIES, FAKE, ItemMean)
    yield FAKE


@pytest.fixture(scope="module")
def data() -> Dataset:
    return make_synthetic()


SPECS = [
    ModelSpec("popular", "popular"),
    ModelSpec("item_knn", "item_knn"),
    ModelSpec("user_knn", "user_knn"),
]


def test_best_model_beats_popular_and_entries_are_sorted(data: Dataset) -> None:
    lines: list[str] = []
    board = run_leaderboard(data, SPECS, progress=lines.append, dataset_name="synthetic")
    assert [e.error for e in board.entries] == [None, None, None]
    values = [e.value("ndcg@10") for e in board.entries]
    assert values == sorted(values, reverse=True)
    best = board.best()
    assert best is not None and best is board.entries[0]
    popular = next(e for e in board.entries if e.family == "popular")
    assert best.family != "popular" and best.value("ndcg@10") > popular.value("ndcg@10") + 0.1
    for entry in board.entries:
        assert {"ndcg@10", "recall@20", "coverage@10", "novelty@10", "diversity@10"} <= set(
            entry.metrics
        )
        assert entry.fit_seconds >= 0 and entry.eval_seconds >= 0
        assert entry.metrics["users_evaluated"] > 0
    assert board.ks == [10, 20] and board.metric == "ndcg@10"
    assert board.dataset["name"] == "synthetic" and board.dataset["events"] == len(data)
    assert board.split["name"] == "leave_last_out"
    assert board.split["train_events"] + board.split["test_events"] == len(data)
    assert len(lines) == 3 and lines[0].startswith("[1/3] popular: ndcg@10")


def test_a_failing_model_is_recorded_not_raised(data: Dataset) -> None:
    specs = [
        ModelSpec("broken", "item_knn", {"neighbours": -5}),
        ModelSpec("ghost", "no_such_family"),
        ModelSpec("popular", "popular"),
    ]
    board = run_leaderboard(data, specs, tune_seconds=1.0)
    assert [e.name for e in board.entries] == ["popular", "broken", "ghost"]  # failures last
    broken, ghost = board.entries[1], board.entries[2]
    assert broken.error is not None and "neighbours" in broken.error
    assert "http" not in broken.error and "\n" not in broken.error
    assert ghost.error is not None and "no_such_family" in ghost.error
    assert not broken.metrics and math.isnan(broken.fit_seconds)
    text = board.to_text()
    assert "FAILED broken (item_knn)" in text and "FAILED ghost" in text
    assert board.best() is board.entries[0]


def test_json_round_trip_keeps_everything(data: Dataset, rating_family: str) -> None:
    specs = [*SPECS, ModelSpec("mean", rating_family), ModelSpec("bad", "item_knn", {"x": 1})]
    board = run_leaderboard(data, specs, split="random_holdout", tune_seconds=0.5, seed=3)
    text = board.to_json()
    raw = json.loads(text)  # strict JSON: NaN became null
    assert raw["entries"][0]["name"] == board.entries[0].name
    again = Leaderboard.from_json(text)
    assert again.to_dict() == board.to_dict()
    assert [e.name for e in again.entries] == [e.name for e in board.entries]
    mean = next(e for e in again.entries if e.name == "mean")
    assert math.isfinite(mean.value("rmse")) and math.isnan(again.entries[0].value("rmse"))
    assert again.split["params"]["seed"] == 3


def test_rating_models_get_rmse_and_lower_is_better(data: Dataset, rating_family: str) -> None:
    specs = [ModelSpec("mean", rating_family), ModelSpec("popular", "popular")]
    lines: list[str] = []
    board = run_leaderboard(
        data, specs, split="random_holdout", metric="rmse", tune_seconds=0.5, progress=lines.append
    )
    assert board.metric == "rmse" and board.entries[0].name == "mean"
    assert board.entries[1].ok and "popular: not tuned: rmse needs rating predictions" in lines[1]
    mean = board.entries[0]
    assert 0 <= mean.metrics["mae"] <= mean.metrics["rmse"] < 4
    assert mean.metrics["ratings_evaluated"] > 0
    assert board.best("rmse") is mean and board.best("mae") is mean
    assert any(c.key == "rmse" and not c.higher_is_better for c in board.columns())
    assert "RMSE" in board.to_text()


def test_default_specs_follow_the_data(data: Dataset, rating_family: str) -> None:
    skipped: dict[str, str] = {}
    families = {s.family for s in default_specs(data, skipped)}
    assert {"popular", "item_knn", "tfidf", rating_family} <= families
    assert "hybrid" not in families and "explicitly" in skipped["hybrid"]

    # clicks only: no ratings, no item text, no relations
    bare = Dataset.from_events(
        np.array(["u1", "u1", "u2"], dtype=object),
        np.array(["a", "b", "a"], dtype=object),
        np.array(["click"] * 3, dtype=object),
        np.full(3, np.nan),
        np.array([1.0, 2.0, 3.0]),
        default_feedback_types(),
    )
    skipped = {}
    families = {s.family for s in default_specs(bare, skipped)}
    assert "popular" in families and "item_knn" in families
    assert "ratings" in skipped[rating_family] and "text" in skipped["tfidf"]


def test_skip_rules_read_class_attributes(monkeypatch: pytest.MonkeyPatch, data: Dataset) -> None:
    profile = DataProfile.of(data)
    assert skip_reason("item_knn", profile) is None
    monkeypatch.setattr(FAMILIES["item_knn"], "max_items", 10, raising=False)
    assert "too heavy" in (skip_reason("item_knn", profile) or "")
    monkeypatch.setattr(FAMILIES["user_knn"], "requires", ("no_such_module_xyz",), raising=False)
    assert "no_such_module_xyz" in (skip_reason("user_knn", profile) or "")
    monkeypatch.setattr(FAMILIES["popular"], "leaderboard_default", False, raising=False)
    assert skip_reason("popular", profile) is not None
    monkeypatch.setattr(FAMILIES["latest"], "needs_relations", True, raising=False)
    assert skip_reason("latest", profile) is None  # the synthetic data has friends
    no_friends = DataProfile(**{**profile.__dict__, "n_relations": 0})
    assert "relations" in (skip_reason("latest", no_friends) or "")


def test_tuning_runs_on_train_only_and_records_its_choice(data: Dataset) -> None:
    lines: list[str] = []
    board = run_leaderboard(
        data, [ModelSpec("popular", "popular"), ModelSpec("fixed", "popular", tune=False)],
        tune_seconds=2.0, progress=lines.append,
    )  # fmt: skip
    tuned = next(e for e in board.entries if e.name == "popular")
    fixed = next(e for e in board.entries if e.name == "fixed")
    assert tuned.tuning is not None and tuned.tuning["trials"] >= 1
    assert tuned.tuning["validation_best"] >= tuned.tuning["validation_default"]
    assert set(tuned.tuned_params) <= {"half_life_days", "count_users"}
    assert fixed.tuning is None and fixed.tuned_params == {}
    assert any("popular: tuning" in line for line in lines)


def test_other_splits_and_a_ready_split(data: Dataset) -> None:
    board = run_leaderboard(data, SPECS[:2], split="held_out_users", seed=1)
    assert board.split["name"] == "held_out_users" and board.split["history_events"] > 0
    assert all(e.ok and e.metrics["users_evaluated"] > 0 for e in board.entries)
    ready = held_out_users(data, test_fraction=0.3, seed=2)
    board = run_leaderboard(data, SPECS[:1], split=ready, tune_seconds=0.5)
    assert board.split["params"]["test_fraction"] == 0.3 and board.entries[0].ok


def test_sampled_metrics_are_labelled(data: Dataset) -> None:
    board = run_leaderboard(data, SPECS[1:2], sampled_negatives=20)
    metrics = board.entries[0].metrics
    assert {"sampled_ndcg@10", "sampled_recall@20", "ndcg@10", "coverage@10"} <= set(metrics)
    assert "sampled_coverage@10" not in metrics  # sampling only applies to accuracy
    assert metrics["sampled_negatives"] == 20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "nope@10"}, "unknown metric"),
        ({"metric": "ndcg"}, "cut-off"),
        ({"k": 0}, "positive"),
        ({"split": "sideways"}, "unknown split"),
    ],
)
def test_bad_arguments_raise(data: Dataset, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_leaderboard(data, SPECS[:1], **kwargs)


def test_the_metric_cut_off_is_always_evaluated(data: Dataset) -> None:
    board = run_leaderboard(data, SPECS[:1], k=5, metric="recall@7")
    assert board.ks == [5, 7] and "recall@7" in board.entries[0].metrics
    assert board.columns()[0].key == "recall@7"
    with pytest.raises(ValueError, match="unique"):
        run_leaderboard(data, [SPECS[0], SPECS[0]])


def test_parsing_command_line_lists() -> None:
    assert parse_ks("20,10, 10") == [10, 20]
    for bad in ("", "x", "0", "10,-1"):
        with pytest.raises(ValueError, match="K must be"):
            parse_ks(bad)
    specs = parse_models("popular, knn=item_knn")
    assert [(s.name, s.family) for s in specs] == [("popular", "popular"), ("knn", "item_knn")]
    with pytest.raises(ValueError, match="unknown model family 'nope'"):
        parse_models("popular,nope")
    with pytest.raises(ValueError, match="unique"):
        parse_models("popular,popular")
