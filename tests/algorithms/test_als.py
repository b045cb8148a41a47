from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recserve.algorithms import create
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import make_synthetic

FAST = {"factors": 8, "iterations": 10, "regularization": 0.1}


class TestALS(RecommenderBehaviour):
    family = "als"
    params = FAST


def test_fold_in_matches_implicit_recalculate_user() -> None:
    from implicit.cpu.als import AlternatingLeastSquares

    data = make_synthetic()
    model = create("als", **FAST).fit(data)
    history = data.positive_matrix()[:5]
    peer = AlternatingLeastSquares(
        factors=8, regularization=0.1, alpha=model.config.alpha, random_state=0
    )
    peer.item_factors = model.item_factors.copy()
    expected = peer.recalculate_user(np.arange(5), history)
    np.testing.assert_allclose(
        model.query_vectors(np.arange(5), history), expected, rtol=1e-3, atol=1e-4
    )


def test_folded_in_history_is_close_to_the_trained_user() -> None:
    data = make_synthetic()
    model = create("als", **FAST).fit(data)
    users = np.arange(10)
    trained = model.score(users)
    folded = model.score(np.full(10, -1), data.positive_matrix()[users])
    assert np.mean(np.argmax(trained, 1) == np.argmax(folded, 1)) >= 0.8


def test_a_new_event_changes_a_known_users_scores() -> None:
    data = make_synthetic()
    model = create("als", **FAST).fit(data)
    history = sp.csr_matrix(data.positive_matrix()[[0]])
    before = model.score(np.array([0]), history)
    event = sp.csr_matrix(([1.0], ([0], [40])), shape=history.shape)  # another taste block
    after = model.score(np.array([0]), history + event)
    assert not np.allclose(before, after)


def test_the_fit_time_estimate_is_zero_for_small_data_and_linear_in_rows() -> None:
    """The model search skips ALS on a catalogue where one fit would overrun its budget."""
    from dataclasses import replace

    from recserve.algorithms.als import ALS
    from recserve.data import Vocabulary

    data = make_synthetic()
    assert ALS.expected_fit_seconds(data) == 0.0

    def sized(items: int) -> Any:
        return replace(data, items=Vocabulary([f"i{k}" for k in range(items)]), _cache={})

    million = ALS.expected_fit_seconds(sized(1_000_000))
    assert million > 10 and ALS.expected_fit_seconds(sized(2_000_000)) == pytest.approx(
        2 * million, rel=1e-3
    )
