import numpy as np

from recserve.algorithms import create
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import make_synthetic


class TestNMF(RecommenderBehaviour):
    family = "nmf"
    params = {"factors": 4, "iterations": 300}


def test_factors_are_non_negative_and_fold_in_recovers_the_trained_user() -> None:
    data = make_synthetic()
    model = create("nmf", factors=4, iterations=300, tolerance=1e-6).fit(data)
    assert (model.user_factors >= 0).all() and (model.item_factors >= 0).all()
    users = np.arange(8)
    folded = model.query_vectors(np.full(8, -1), data.positive_matrix()[users])
    np.testing.assert_allclose(folded, model.user_factors[users], atol=0.05)


def test_more_factors_than_the_matrix_allows_are_capped() -> None:
    data = make_synthetic()
    model = create("nmf", factors=500, iterations=20).fit(data)
    assert model.item_factors.shape[1] == min(data.n_users, data.n_items)
