"""The dashboard's own queries on SQLite and the real PostgreSQL: hour buckets floor (never
round) timestamps, and search treats LIKE wildcards in the query as plain characters."""

from __future__ import annotations

from recserve.dashboard import queries
from recserve.dashboard.queries import HOUR
from recserve.store import Store

BASE = 480_000 * HOUR  # an hour boundary in 2024


def test_events_per_hour_and_recent(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        assert queries.events_per_hour(store) is None
        times = [BASE + 0.5, BASE + HOUR - 0.1, BASE + HOUR - 0.2, BASE + 3 * HOUR + 10]
        store.feedback.add(
            [{"user_id": f"u{k}", "item_id": "i1", "type": "view", "timestamp": t}
             for k, t in enumerate(times)]
        )  # fmt: skip
        series = queries.events_per_hour(store, hours=6)
        assert series is not None
        assert series.start == BASE - 2 * HOUR  # six hours ending with the newest one
        assert series.counts == [0, 0, 3, 0, 0, 1]
        recent = queries.recent_events(store, 2)
        assert [e["user_id"] for e in recent] == ["u3", "u2"]  # newest arrival first
        assert queries.event_counts(store, "item_id", ["i1", "nope"]) == {"i1": 4}
    finally:
        store.close()


def test_search_is_literal_and_case_insensitive(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        store.items.upsert(
            [
                {"item_id": "a_1", "title": "Blue Ocean"},
                {"item_id": "ab1", "title": "100% Cotton"},
                {"item_id": "c3", "title": "Red Sea"},
            ]
        )
        store.users.upsert([{"user_id": f"User{k:02d}"} for k in range(12)])

        def ids(query: str) -> list[str]:
            return [r["item_id"] for r in queries.search_items(store, query, None, 10)[0]]

        assert ids("a_") == ["a_1"]  # "_" is not a wildcard
        assert ids("%") == ["ab1"]
        assert ids("OCEAN") == ["a_1"]
        assert ids("") == ["a_1", "ab1", "c3"]
        page, after = queries.search_users(store, "user0", None, 5)
        assert [r["user_id"] for r in page] == [f"User{k:02d}" for k in range(5)]
        rest, end = queries.search_users(store, "user0", after, 5)
        assert [r["user_id"] for r in rest] == [f"User{k:02d}" for k in range(5, 10)]
        assert end is None
    finally:
        store.close()
