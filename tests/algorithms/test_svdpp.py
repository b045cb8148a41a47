import numpy as np
import scipy.sparse as sp

from recserve.algorithms import create
from tests.algorithms.behaviour import RatingBehaviour
from tests.synthetic import BLOCKS, rating_synthetic

FAST = {"factors": 8, "iterations": 150, "learning_rate": 0.05}


class TestSVDpp(RatingBehaviour):  # on the rating variant of the synthetic set: see there
    family = "svdpp"
    params = FAST


def test_unchanged_history_gives_the_trained_scores_and_a_new_event_moves_them() -> None:
    data = rating_synthetic()
    model = create("svdpp", **FAST).fit(data)
    users = np.arange(3)
    trained = model.score(users)
    history = data.positive_matrix()[users]
    np.testing.assert_allclose(model.score(users, history), trained, rtol=1e-5, atol=1e-5)
    unrated = np.setdiff1d(np.arange(data.n_items), model.trained_ratings[0].indices)
    event = sp.csr_matrix(([1.0], ([0], [unrated[-1]])), shape=history.shape)
    moved = model.score(users, history + event)
    assert not np.allclose(moved[0], trained[0])
    np.testing.assert_allclose(moved[1:], trained[1:], rtol=1e-5, atol=1e-5)


def test_implicit_term_comes_from_all_events_not_only_positive_ones() -> None:
    data = rating_synthetic()
    model = create("svdpp", **FAST).fit(data)
    # 7 liked items of the own block, 2 disliked of each other block: 13 events, 7 positive
    assert (np.diff(model.trained_events.indptr) == 7 + 2 * (BLOCKS - 1)).all()
    assert (np.diff(data.positive_matrix().indptr) == 7).all()
