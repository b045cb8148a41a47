"""Read-only queries the dashboard needs and the repositories do not offer: search by id or
title, the events-over-time series, the newest events and per-row event counts.

SQLAlchemy Core over ``recserve.store.schema``, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from recserve.store import Store, schema

HOUR = 3600.0
# The bar widths the overview chart chooses from, in hours, and the hour each kind of bar is
# aligned to (weeks start on Monday: 1970-01-05 00:00 UTC is hour 96).
BAR_HOURS = (1, 6, 24, 7 * 24)
_ALIGN_HOURS = {7 * 24: 96}


@dataclass(frozen=True)
class EventSeries:
    """Event counts per bar over consecutive bars ending with the bar of the newest event."""

    start: float  # Unix seconds at which the first bar starts
    bar_seconds: float  # the width of one bar: an hour, 6 hours, a day or a week
    counts: list[int]

    @property
    def end(self) -> float:
        return self.start + self.bar_seconds * len(self.counts)


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere, with its wildcards escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_items(
    store: Store, query: str, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Items whose id or title contains ``query`` (case-insensitive), by id after ``after``;
    returns the page and the id to continue after (None on the last page)."""
    t = schema.items
    stmt = sa.select(t).order_by(t.c.item_id).limit(limit + 1)
    if query:
        pattern = _like(query)
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(t.c.item_id).like(pattern, escape="\\"),
                sa.func.lower(t.c.title).like(pattern, escape="\\"),
            )
        )
    if after:
        stmt = stmt.where(t.c.item_id > after)
    return _page(store, stmt, "item_id", limit)


def search_users(
    store: Store, query: str, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Users whose id contains ``query`` (case-insensitive), by id after ``after``."""
    t = schema.users
    stmt = sa.select(t).order_by(t.c.user_id).limit(limit + 1)
    if query:
        stmt = stmt.where(sa.func.lower(t.c.user_id).like(_like(query), escape="\\"))
    if after:
        stmt = stmt.where(t.c.user_id > after)
    return _page(store, stmt, "user_id", limit)


def _page(
    store: Store, stmt: sa.Select[Any], key: str, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, str(rows[-1][key])
    return rows, None


def event_counts(store: Store, column: str, keys: Sequence[str]) -> dict[str, int]:
    """Events per ``user_id`` or ``item_id`` for the given keys (both columns are indexed)."""
    if not keys:
        return {}
    col = schema.events.c[column]
    stmt = sa.select(col, sa.func.count()).where(col.in_(list(keys))).group_by(col)
    with store.engine.connect() as conn:
        return {str(k): int(n) for k, n in conn.execute(stmt)}


def recent_events(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """The newest events by event time (then by arrival), newest first."""
    t = schema.events
    stmt = sa.select(t).order_by(t.c.timestamp.desc(), t.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def events_over_time(store: Store, bars: int = 7 * 24) -> EventSeries | None:
    """Event counts in ``bars`` bars ending with the bar of the newest event, at the bar
    width (hour, 6 hours, day, week) whose window shows the most non-empty bars (the finer
    on a tie); None when there are no events.

    The window ends at the data's newest event rather than at the clock, so an imported
    history still shows; and the width adapts, so the first live events after an old
    import do not leave the window with one bar: a week-wide window then reaches back to
    the import. A service with steady traffic gets hour bars over the last 7 days.
    """
    t = schema.events
    bucket = _hour_bucket(store, t.c.timestamp)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(bucket, sa.func.count()).group_by(bucket)).all()
    if not rows:
        return None
    hours = np.array([int(h) for h, _ in rows], dtype=np.int64)
    per_hour = np.array([int(n) for _, n in rows], dtype=np.int64)
    best: tuple[int, int, list[int]] | None = None  # (non-empty bars, first bar, counts)
    best_width = BAR_HOURS[0]
    for width in BAR_HOURS:
        align = _ALIGN_HOURS.get(width, 0)
        bar = (hours - align) // width
        first = int(bar.max()) - bars + 1
        inside = bar >= first
        counts = np.bincount(bar[inside] - first, weights=per_hour[inside], minlength=bars)
        shown = int(np.count_nonzero(counts))
        if best is None or shown > best[0]:
            best = (shown, first * width + align, [int(c) for c in counts])
            best_width = width
    assert best is not None
    return EventSeries(start=best[1] * HOUR, bar_seconds=best_width * HOUR, counts=best[2])


def _hour_bucket(store: Store, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The hour number of a (non-negative) timestamp: SQLite's CAST truncates, PostgreSQL's
    rounds, so PostgreSQL takes FLOOR first."""
    if store.dialect == "postgresql":
        return sa.cast(sa.func.floor(column / HOUR), sa.BigInteger)
    return sa.cast(column / HOUR, sa.Integer)
