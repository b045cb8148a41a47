"""The dashboard's own queries on SQLite and the real PostgreSQL: hour buckets floor (never
round) timestamps, the chart's window shows the data, the newest events are by event time,
and search treats LIKE wildcards in the query as plain characters."""

from __future__ import annotations

import time

from recserve.dashboard import queries
from recserve.dashboard.queries import HOUR
from recserve.store import Store

BASE = 480_000 * HOUR  # an hour boundary in 2024
DAY = 24 * HOUR


def views(times: list[float], first: int = 0) -> list[dict[str, object]]:
    return [{"user_id": f"u{first + k}", "item_id": "i1", "type": "view", "timestamp": t}
            for k, t in enumerate(times)]  # fmt: skip


def test_events_over_time_and_recent(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        assert queries.events_over_time(store) is None
        times = [BASE + 0.5, BASE + HOUR - 0.1, BASE + HOUR - 0.2, BASE + 3 * HOUR + 10]
        store.feedback.add(views(times))
        series = queries.events_over_time(store, bars=6)
        assert series is not None
        assert series.bar_seconds == HOUR  # hours show two bars, as many as wider ones
        assert series.start == BASE - 2 * HOUR  # six hours ending with the newest one
        assert series.counts == [0, 0, 3, 0, 0, 1]
        recent = queries.recent_events(store, 2)
        assert [e["user_id"] for e in recent] == ["u3", "u1"]  # by time: u1 is after u2
        assert queries.event_counts(store, "item_id", ["i1", "nope"]) == {"i1": 4}

        store.feedback.add(views([BASE + 2 * HOUR], first=4))  # stored last, but older
        assert [e["user_id"] for e in queries.recent_events(store, 2)] == ["u3", "u4"]
    finally:
        store.close()


def test_the_window_reaches_back_to_an_old_import(database_url: str) -> None:
    """Twenty days of imported events, then one live event a year later: hour, 6-hour and
    day windows ending at the live event would show it alone; the chart takes week bars,
    which show the import as well."""
    store = Store.open(database_url)
    try:
        imported = [BASE + day * DAY + 18 * HOUR for day in range(20)]
        live = BASE + 365 * DAY
        store.feedback.add(views([*imported, live]))
        series = queries.events_over_time(store)
        assert series is not None
        assert series.bar_seconds == 7 * DAY
        assert len(series.counts) == 7 * 24
        assert sum(series.counts) == 21  # every event is in the window
        assert sum(c > 0 for c in series.counts) >= 4  # the import's weeks and the live one
        assert series.start <= imported[0] < live < series.end
        assert time.gmtime(series.start).tm_wday == 0  # week bars start on Mondays
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
