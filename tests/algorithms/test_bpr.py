import numpy as np
import scipy.sparse as sp

from recserve.algorithms import create
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import make_synthetic

FAST = {"factors": 16, "iterations": 60, "learning_rate": 0.05}


class TestBPR(RecommenderBehaviour):
    family = "bpr"
    params = FAST


def test_fold_in_is_the_ridge_projection_of_the_history() -> None:
    data = make_synthetic()
    model = create("bpr", **FAST).fit(data)
    history = data.positive_matrix()[:3]
    y = model.item_factors.astype(np.float64)
    lam = model.config.fold_in_regularization
    pattern = (history.toarray() > 0).astype(np.float64)
    expected = np.linalg.solve(y.T @ y + lam * np.eye(y.shape[1]), y.T @ pattern.T).T
    got = model.query_vectors(np.full(3, -1), history)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


def test_known_user_keeps_the_trained_vector_until_the_history_changes() -> None:
    data = make_synthetic()
    model = create("bpr", **FAST).fit(data)
    users = np.arange(4)
    history = data.positive_matrix()[users]
    np.testing.assert_allclose(
        model.query_vectors(users, history), model.user_factors[users], rtol=1e-5, atol=1e-6
    )
    new_event = sp.csr_matrix(([1.0], ([0], [40])), shape=(4, data.n_items))
    moved = model.query_vectors(users, history + new_event)
    assert not np.allclose(moved[0], model.user_factors[0])
    np.testing.assert_allclose(moved[1:], model.user_factors[1:4], rtol=1e-5, atol=1e-6)
