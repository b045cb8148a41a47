"""The model search's own parts: its validation split and a short search on small data."""

from __future__ import annotations

import numpy as np

from recserve.data.dataset import POSITIVE
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
