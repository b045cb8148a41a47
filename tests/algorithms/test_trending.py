import numpy as np
import pytest

from recserve.algorithms import create
from recserve.config import default_feedback_types
from recserve.data import Dataset
from tests.algorithms.behaviour import RecommenderBehaviour


class TestTrending(RecommenderBehaviour):
    family = "trending"
    params = {"window_days": 2.0}
    knows_blocks = False  # the same list for everyone, not about taste


class TestTrendingByConfidence(RecommenderBehaviour):
    family = "trending"
    params = {"window_days": 1.0, "baseline_days": 3.0, "prior": 1.0, "count_users": False}
    knows_blocks = False


DAY = 86_400.0
NOW = 1_700_000_000.0


def _likes(events: list[tuple[str, str, float]], kind: str = "like") -> Dataset:
    users, items, times = zip(*events, strict=True)
    return Dataset.from_events(
        np.array(users, dtype=object),
        np.array(items, dtype=object),
        np.full(len(events), kind, dtype=object),
        np.full(len(events), np.nan),
        np.array(times),
        default_feedback_types(),
    )


def _events() -> list[tuple[str, str, float]]:
    recent, before, old = NOW - 0.5 * DAY, NOW - 1.5 * DAY, NOW - 2.5 * DAY
    events = [("u0", "A", NOW)]  # the snapshot's latest event: the windows end here
    events += [(f"u{k}", "A", recent) for k in range(1, 4)]  # A: 4 users now ...
    events += [("u1", "A", recent + 60)]  # ... (u1 twice counts once)
    events += [("u9", "A", before)]  # ... 1 the day before
    events += [("u1", "B", recent)]  # B: 1 now, 0 before
    events += [(f"u{k}", "C", before) for k in range(3)]  # C: 0 now, 3 before
    events += [(f"u{k}", "D", recent) for k in range(2)]  # D: 2 now, 4 before
    events += [(f"u{k}", "D", before) for k in range(2, 6)]
    events += [(f"u{k}", "D", old) for k in range(6, 9)]  # outside both windows
    return events


def test_growth_by_hand() -> None:
    data = _likes(_events())
    model = create("trending", window_days=1.0, prior=1.0).fit(data)
    scores = dict(zip(data.items.ids, model.scores.tolist(), strict=True))
    assert scores == pytest.approx({"A": 5 / 2, "B": 2 / 1, "C": 0.0, "D": 3 / 5})
    ids, _ = model.ranking(4)
    assert data.items.id_of(ids).tolist() == ["A", "B", "D", "C"]


def test_a_longer_baseline_is_rescaled_to_the_window() -> None:
    data = _likes(_events())
    model = create("trending", window_days=1.0, baseline_days=2.0, prior=1.0).fit(data)
    scores = dict(zip(data.items.ids, model.scores.tolist(), strict=True))
    # D: previous window (2 days) holds 4 + 3 users, i.e. 3.5 per day
    assert scores["D"] == pytest.approx((2 + 1) / (7 * 0.5 + 1))
    assert scores["A"] == pytest.approx((4 + 1) / (1 * 0.5 + 1))


def test_the_prior_keeps_tiny_counts_down() -> None:
    data = _likes(_events())
    smooth = create("trending", window_days=1.0, prior=10.0).fit(data)
    assert smooth.scores[data.items.get("B")] == pytest.approx(11 / 10)
    assert smooth.scores[data.items.get("A")] > smooth.scores[data.items.get("B")]


def test_summed_confidence_counts_every_event() -> None:
    data = _likes(_events(), kind="purchase")  # weight 4 each
    model = create("trending", window_days=1.0, prior=1.0, count_users=False).fit(data)
    assert model.scores[data.items.get("A")] == pytest.approx((5 * 4 + 1) / (4 + 1))
