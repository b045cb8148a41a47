"""Pieces of the request path: diversity re-ranking, pins, live counters, and the
store-backed helpers for sessions and the friend graph (on SQLite and PostgreSQL)."""

from __future__ import annotations

import numpy as np
import pytest

from recserve.config import default_feedback_types
from recserve.data import Vocabulary
from recserve.serving.diversity import mmr
from recserve.serving.live import LiveCounts, popular_scores, trending_scores
from recserve.serving.rules import apply_pins
from recserve.serving.sessions import session_items
from recserve.serving.social import blend, friends, friends_of_friends
from recserve.store import Store


def test_mmr_keeps_order_without_diversity_and_spreads_with_it() -> None:
    scores = np.array([1.0, 0.9, 0.8, 0.1])
    same = np.array([[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1]], dtype=float)
    assert mmr(scores, same, 4, 0.0).tolist() == [0, 1, 2, 3]
    assert mmr(scores, same, 2, 0.5).tolist() == [0, 3]
    assert mmr(scores, same, 3, 0.5).tolist()[:2] == mmr(scores, same, 2, 0.5).tolist()
    assert mmr(np.empty(0), np.empty((0, 0)), 3, 0.5).tolist() == []


def test_pins_move_or_insert_items_in_their_slots() -> None:
    ids, scores, pinned = apply_pins(
        ["a", "b", "c", "d"], [4.0, 3.0, 2.0, 1.0], [("d", 1), ("x", 3)]
    )
    assert ids == ["d", "a", "x", "b", "c"] and pinned == {"d", "x"}
    assert scores == [4.0, 4.0, 3.0, 3.0, 2.0]
    ids, _, _ = apply_pins(["a"], [1.0], [("z", 10)])
    assert ids == ["a", "z"]


def test_live_counts_one_vote_per_user_and_item() -> None:
    live = LiveCounts(Vocabulary(["a", "b"]))
    assert not live.any
    live.add([("u1", "a"), ("u1", "a"), ("u2", "a"), ("u1", "b"), ("u1", "unknown")])
    assert live.counts.tolist() == [2.0, 1.0] and live.any
    assert live.changed.tolist() == [0, 1]
    assert popular_scores(np.array([1.0, 5.0], np.float32), live.counts).tolist() == [3.0, 6.0]
    trend = trending_scores(np.array([2.0, 0.0], np.float32), live.counts, prior=5.0)
    assert trend.tolist() == pytest.approx([2.4, 1.2])


def test_sessions_and_friends_from_the_store(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        store.feedback.add(
            [
                {
                    "user_id": "x",
                    "item_id": "a",
                    "type": "view",
                    "timestamp": 3.0,
                    "session_id": "s",
                },
                {
                    "user_id": "x",
                    "item_id": "b",
                    "type": "like",
                    "timestamp": 1.0,
                    "session_id": "s",
                },
                {
                    "user_id": "x",
                    "item_id": "c",
                    "type": "dislike",
                    "timestamp": 2.0,
                    "session_id": "s",
                },
                {
                    "user_id": "y",
                    "item_id": "d",
                    "type": "like",
                    "timestamp": 1.0,
                    "session_id": "t",
                },
            ]
        )
        assert session_items(store, "s", default_feedback_types()) == (["b", "a"], {"c"})
        assert session_items(store, "none", default_feedback_types()) == ([], set())
        store.relations.add(
            [
                {"user_id": "me", "other_user_id": "f1"},
                {"user_id": "f2", "other_user_id": "me", "type": "follow"},
                {"user_id": "f1", "other_user_id": "p"},
                {"user_id": "p", "other_user_id": "f2"},
                {"user_id": "f1", "other_user_id": "q"},
                {"user_id": "f1", "other_user_id": "f2"},
            ]
        )
        direct = friends(store, "me")
        assert direct == {"f1", "f2"}
        graph = friends_of_friends(store, "me", direct)
        assert dict(graph) == {"p": 2, "q": 1}
        assert [u for u, _ in blend(graph, {"q": 0.9, "z": 0.5})] == ["q", "p", "z"]
    finally:
        store.close()
