import numpy as np
import pytest

from recserve.algorithms import create
from recserve.config import default_feedback_types
from recserve.data import Dataset
from tests.algorithms.behaviour import RecommenderBehaviour


class TestLatest(RecommenderBehaviour):
    family = "latest"
    knows_blocks = False  # the same list for everyone, not about taste


DAY = 86_400.0
T0 = 1_700_000_000.0


def test_published_first_then_first_event_then_undated() -> None:
    item_rows = {
        "old": {"published_at": T0},
        "new": {"published_at": T0 + 10 * DAY},
        "seen": {},  # no date: its first event (day 5) stands in
        "undated": {},  # neither a date nor an event
    }
    data = Dataset.from_events(
        np.array(["u1", "u1", "u2"], dtype=object),
        np.array(["seen", "seen", "old"], dtype=object),
        np.array(["view", "like", "like"], dtype=object),
        np.full(3, np.nan),
        np.array([T0 + 5 * DAY, T0 + 7 * DAY, T0 + 20 * DAY]),
        default_feedback_types(),
        item_rows=item_rows,
    )
    model = create("latest").fit(data)
    ids, scores = model.ranking(4)
    assert data.items.id_of(ids).tolist() == ["new", "seen", "old", "undated"]
    np.testing.assert_allclose(scores[:3], [0.0, -5.0, -10.0])
    without_fallback = create("latest", first_event_fallback=False).fit(data)
    ids, _ = without_fallback.ranking(2)
    assert data.items.id_of(ids).tolist() == ["new", "old"]


def test_float32_scores_keep_seconds_apart() -> None:
    item_rows = {f"i{k}": {"published_at": T0 + k} for k in range(5)}  # one second apart
    data = Dataset.from_events(
        np.array(["u"], dtype=object),
        np.array(["i0"], dtype=object),
        np.array(["like"], dtype=object),
        np.array([np.nan]),
        np.array([T0]),
        default_feedback_types(),
        item_rows=item_rows,
    )
    ids, scores = create("latest").fit(data).ranking(5)
    assert data.items.id_of(ids).tolist() == ["i4", "i3", "i2", "i1", "i0"]
    assert scores[1] == pytest.approx(-1 / DAY, rel=1e-3)
