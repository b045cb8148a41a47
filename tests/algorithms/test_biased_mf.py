"""Biased MF. Explicit-rating models run the behavioural suite on a variant of the shared
synthetic set (``rating_synthetic``): in the shared one a user rates only their own block
(5) and the next one (1), so no rating relates block b to block b+2, and the simplest
(minimum-norm) completion of those ratings says a user likes b+2 as much as b -- a rating
model cannot tell them apart. In the variant every user has also rated two items of every
other block badly, which makes the blocks identifiable from ratings alone."""

import numpy as np
import pytest
import scipy.sparse as sp

from recserve.algorithms import create
from recserve.config import default_feedback_types
from recserve.data import Dataset
from tests.algorithms.behaviour import RatingBehaviour
from tests.synthetic import ITEMS_PER_BLOCK, make_synthetic, rating_synthetic


class TestBiasedMFGibbs(RatingBehaviour):
    family = "biased_mf"
    params = {"factors": 4, "samples": 40, "burn_in": 10}


class TestBiasedMFALS(RatingBehaviour):
    family = "biased_mf"
    params = {"solver": "als", "factors": 4, "regularization": 0.1, "bias_regularization": 0.1}


def _ratings(users: list[str], items: list[str], values: list[float]) -> Dataset:
    n = len(values)
    return Dataset.from_events(
        np.array(users, dtype=object),
        np.array(items, dtype=object),
        np.full(n, "rating", dtype=object),
        np.array(values, dtype=np.float64),
        np.arange(n, dtype=np.float64),
        default_feedback_types(),
    )


@pytest.mark.parametrize("solver", ["gibbs", "als"])
def test_predictions_fall_back_to_biases_and_stay_in_range(solver: str) -> None:
    data = rating_synthetic()
    model = create("biased_mf", solver=solver, factors=4, samples=30).fit(data)
    predicted = model.predict_ratings(np.array([-1, -1, 0, 0]), np.array([-1, 3, -1, 3]))
    assert predicted[0] == pytest.approx(model.global_mean)
    assert predicted[1] == pytest.approx(model.global_mean + model.item_bias[3], abs=1e-5)
    assert predicted[2] == pytest.approx(model.global_mean + model.user_bias[0], abs=1e-5)
    everything = model.predict_ratings(
        np.repeat(np.arange(data.n_users), data.n_items),
        np.tile(np.arange(data.n_items), data.n_users),
    )
    assert everything.min() >= 1.0 and everything.max() <= 5.0


def test_fold_in_leaves_an_unchanged_user_alone_and_follows_a_new_like() -> None:
    data = rating_synthetic()
    model = create("biased_mf", factors=4, samples=30).fit(data)
    users = np.arange(3)
    trained = model.score(users)
    history = data.positive_matrix()[users]
    np.testing.assert_allclose(model.score(users, history), trained, rtol=1e-5, atol=1e-5)
    liked = 3 * ITEMS_PER_BLOCK + np.arange(5)  # user 0 (block 0) rated a couple of these 1
    event = sp.csr_matrix((np.ones(5), (np.zeros(5, int), liked)), shape=history.shape)
    moved = model.score(users, history + event)
    other = 3 * ITEMS_PER_BLOCK + np.arange(5, ITEMS_PER_BLOCK)
    assert moved[0, other].mean() > trained[0, other].mean() + 0.1
    np.testing.assert_allclose(moved[1:], trained[1:], rtol=1e-5, atol=1e-5)


def test_the_latest_rating_of_a_pair_wins() -> None:
    data = _ratings(["a", "a", "b", "b"], ["x", "x", "x", "y"], [1.0, 5.0, 5.0, 4.0])
    model = create("biased_mf", solver="als", factors=2, regularization=0.01).fit(data)
    assert model.predict_ratings(np.array([0]), np.array([0]))[0] > 4.0


def test_without_ratings_the_fit_is_refused_clearly() -> None:
    data = make_synthetic()
    no_ratings = data.subset(np.zeros(len(data), dtype=bool))
    with pytest.raises(ValueError, match="explicit ratings"):
        create("biased_mf").fit(no_ratings)
