"""The typed training request: what the job record stores and the worker reads back."""

from __future__ import annotations

import pytest

from recserve.training.request import TrainingRequest


def test_round_trip_through_the_stored_json() -> None:
    request = TrainingRequest(models=("popular",), promote="never", families=("ease", "als"))
    stored = request.to_dict()
    assert stored["models"] == ["popular"] and stored["families"] == ["ease", "als"]
    assert TrainingRequest.from_dict(stored) == request
    assert TrainingRequest.from_dict(None) == TrainingRequest()
    assert TrainingRequest.from_dict({"engine": "spark"}) == TrainingRequest()  # older keys


def test_the_runners_budget_fills_only_a_missing_one() -> None:
    assert TrainingRequest().with_budget(30).budget_seconds == 30
    assert TrainingRequest(budget_seconds=5).with_budget(30).budget_seconds == 5


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="promote"):
        TrainingRequest.from_dict({"promote": "sometimes"})
    with pytest.raises(ValueError, match="budget_seconds"):
        TrainingRequest(budget_seconds=0)
