from typing import Any

import numpy as np
import pytest

from recserve.algorithms import create
from recserve.algorithms.ease import EASE, CatalogueTooLarge
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import make_synthetic


class TestEASE(RecommenderBehaviour):
    family = "ease"
    params = {"regularization": 10.0}


def test_weights_are_the_closed_form() -> None:
    data = make_synthetic()
    lam = 10.0
    model = create("ease", regularization=lam).fit(data)
    x = (data.positive_matrix().toarray() > 0).astype(np.float64)
    p = np.linalg.inv(x.T @ x + lam * np.eye(data.n_items))
    expected = np.eye(data.n_items) - p / np.diag(p)
    np.testing.assert_allclose(model.weights, expected, atol=1e-5)
    assert np.allclose(np.diag(model.weights), 0.0)


def test_catalogue_above_the_cap_is_refused_clearly() -> None:
    data = make_synthetic()
    with pytest.raises(CatalogueTooLarge, match="max_items=10"):
        create("ease", max_items=10).fit(data)


def test_the_fit_time_estimate_grows_with_the_cube_of_the_catalogue() -> None:
    """Small catalogues are assumed quick; above that the estimate is the measured pace of
    this machine's inverse times n^3, so doubling the items multiplies it by eight."""
    from dataclasses import replace

    from recserve.data import Vocabulary

    data = make_synthetic()
    assert EASE.expected_fit_seconds(data) == 0.0

    def with_items(n: int) -> Any:
        return replace(data, items=Vocabulary([f"i{k}" for k in range(n)]), _cache={})

    small, large = (
        EASE.expected_fit_seconds(with_items(5_000)),
        EASE.expected_fit_seconds(with_items(10_000)),
    )
    assert small > 0 and large == pytest.approx(8 * small)
