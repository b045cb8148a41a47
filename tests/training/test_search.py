"""The model search's own parts: its validation split and a short search on small data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recserve.algorithms.neural.sasrec import SASRecConfig
from recserve.data.dataset import POSITIVE
from recserve.training import candidates
from recserve.training.search import ModelSearch, validation_split
from tests.synthetic import make_synthetic


def test_validation_is_each_users_latest_positive_for_a_seeded_sample() -> None:
    data = make_synthetic()
    split = validation_split(data)
    assert len(split.train) + len(split.test) == len(data)
    users = split.test.user
    assert len(np.unique(users)) == len(users)  # one target per user
    for u, t in zip(users, split.test.timestamp, strict=True):
        mine = (data.user == u) & (data.kind == POSITIVE)
        assert t == data.timestamp[mine].max()
    sampled = validation_split(data, max_users=5, seed=1)
    assert len(sampled.test) == 5
    assert np.array_equal(sampled.test.user, validation_split(data, max_users=5, seed=1).test.user)


def test_a_search_starts_from_the_warm_configuration_and_reports_every_trial() -> None:
    data = make_synthetic()
    warm = ("ease", {"regularization": 7.0, "binary": False})
    result = ModelSearch(data, 4.0, families=["popular", "ease", "item_knn"], warm_start=warm).run()
    first = result.trials[0]
    assert (first.family, first.source) == ("ease", "warm_start")
    assert first.params["regularization"] == 7.0 and first.params["binary"] is False
    assert {t.family for t in result.trials} <= {"popular", "ease", "item_knn", "hybrid"}
    assert result.best is not None and result.best.state == "complete"
    assert result.to_dict()["best_trial"] == result.best.number


def test_a_sequential_trial_trains_under_a_time_limit_and_reports_the_epochs_to_refit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The trial trains with early stopping under its share of the budget; the parameters
    it reports (the ones the job refits with) fix the chosen epoch count and drop the
    validation slice and the time limit."""
    pytest.importorskip("torch")
    monkeypatch.setattr(candidates, "NEURAL_MIN_EVENTS", 0)  # the small data set suffices
    data = make_synthetic()
    result = ModelSearch(data, 40.0, families=["popular", "sasrec"]).run()
    trial = next(t for t in result.trials if t.family == "sasrec")
    assert trial.state == "complete", trial.error
    assert "time_limit_seconds" not in trial.params
    assert trial.params["validation_users"] == 0
    assert 1 <= trial.params["epochs"] < SASRecConfig().epochs


def test_a_value_no_search_distribution_can_hold_still_runs_as_given() -> None:
    """A champion (or a family's default: two-tower's weight_decay) at 0 on a parameter the
    search draws on a log scale: Optuna cannot enqueue it, so it runs outside TPE instead
    of failing the job."""
    data = make_synthetic()
    warm = ("als", {"regularization": 0.0, "factors": 8, "iterations": 2})
    result = ModelSearch(data, 3.0, families=["als"], warm_start=warm).run()
    first = result.trials[0]
    assert (first.source, first.state) == ("warm_start", "complete"), first.error
    assert first.params["regularization"] == 0.0


def test_without_time_order_the_validation_target_is_a_seeded_random_positive() -> None:
    """Every event stamped alike (a file without times): "latest" would be file order, so
    each user's target is a random positive instead, the same for the same seed."""
    data = make_synthetic()
    data = dataclasses.replace(data, timestamp=np.zeros(len(data)), _cache={})
    split = validation_split(data)
    assert split.name == "random_one_per_user"
    last_in_file = validation_split(
        dataclasses.replace(data, timestamp=np.arange(len(data), dtype=float), _cache={})
    )
    assert last_in_file.name == "leave_last_out"
    assert not np.array_equal(np.sort(split.test.item), np.sort(last_in_file.test.item))
    assert np.array_equal(split.test.item, validation_split(data).test.item)


def test_a_family_expected_to_overrun_the_budget_is_skipped_before_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """EASE on a large catalogue would take minutes: with its estimate beyond what is left
    it is reported as skipped, and the families after it still run."""
    from recserve.algorithms.ease import EASE

    monkeypatch.setattr(EASE, "expected_fit_seconds", classmethod(lambda cls, data: 1e6))
    result = ModelSearch(make_synthetic(), 5.0, families=["popular", "ease", "als"]).run()
    assert "expected to take" in result.skipped["ease"]
    assert "ease" not in {t.family for t in result.trials}
    assert "als" in {t.family for t in result.trials}


def test_no_ensemble_on_a_catalogue_too_large_to_rank_densely(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from recserve.training import search

    monkeypatch.setattr(search, "ENSEMBLE_MAX_ITEMS", 10)  # the synthetic data has 48 items
    result = ModelSearch(make_synthetic(), 3.0, families=["popular", "item_knn"]).run()
    assert "hybrid" not in {t.family for t in result.trials}
    assert "scores every item" in result.skipped["hybrid"]
