import numpy as np
import pytest

from recserve.algorithms import create
from recserve.config import default_feedback_types
from recserve.data import Dataset
from tests.algorithms.behaviour import RecommenderBehaviour


class TestBestRated(RecommenderBehaviour):
    family = "best_rated"
    knows_blocks = False  # the same list for everyone, not about taste


def test_bayesian_average_by_hand() -> None:
    ratings = [
        ("u1", "A", 1.0, 0.0),  # u1 changes their mind: only the later 5 counts
        ("u1", "A", 5.0, 9.0),
        ("u2", "A", 5.0, 1.0),
        *((f"u{k}", "B", 4.0, 1.0) for k in range(4)),
        ("u1", "C", 1.0, 2.0),
        ("u2", "C", 3.0, 2.0),
    ]
    users, items, values, times = zip(*ratings, strict=True)
    data = Dataset.from_events(
        np.array([*users, "u5"], dtype=object),
        np.array([*items, "D"], dtype=object),
        np.array(["rating"] * len(ratings) + ["like"], dtype=object),
        np.array([*values, np.nan]),
        np.array([*times, 3.0]),
        default_feedback_types(),
    )
    model = create("best_rated", prior_count=2.0).fit(data)
    # A: 5, 5; B: 4, 4, 4, 4; C: 1, 3 -> global mean m = 30 / 8 = 3.75
    m = 30 / 8
    expected = {
        "A": (2 * m + 10) / (2 + 2),
        "B": (2 * m + 16) / (2 + 4),
        "C": (2 * m + 4) / (2 + 2),
    }
    scores = dict(zip(data.items.ids, model.scores.tolist(), strict=True))
    assert {k: scores[k] for k in "ABC"} == pytest.approx(expected)
    ids, _ = model.ranking(4)
    assert data.items.id_of(ids).tolist() == ["A", "B", "C", "D"]  # unrated D last
    # without a prior it is the plain mean
    plain = create("best_rated", prior_count=0.0).fit(data)
    assert plain.scores[data.items.get("B")] == pytest.approx(4.0)
