"""Read-only queries the dashboard needs and the repositories do not offer: search by id or
title, the events-per-hour series, the newest events and per-row event counts.

SQLAlchemy Core over ``recserve.store.schema``, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from recserve.store import Store, schema

HOUR = 3600.0


@dataclass(frozen=True)
class HourlySeries:
    """Event counts per hour over ``hours`` hours ending with the hour of the newest event."""

    start: float  # Unix seconds of the first hour
    counts: list[int]


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
    """The newest stored events (by arrival), newest first."""
    t = schema.events
    stmt = sa.select(t).order_by(t.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def events_per_hour(store: Store, hours: int = 7 * 24) -> HourlySeries | None:
    """Counts per hour for the ``hours`` hours up to the newest event's timestamp.

    The window ends at the data's newest event rather than at the clock, so an imported
    history (the demo ends in 2024) still shows its last days; None when there are no events.
    """
    t = schema.events
    with store.engine.connect() as conn:
        latest = conn.execute(sa.select(sa.func.max(t.c.timestamp))).scalar_one_or_none()
        if latest is None:
            return None
        end_hour = int(float(latest) // HOUR)
        start_hour = end_hour - hours + 1
        bucket = _hour_bucket(store, t.c.timestamp)
        stmt = (
            sa.select(bucket.label("hour"), sa.func.count())
            .where(t.c.timestamp >= start_hour * HOUR)
            .where(t.c.timestamp < (end_hour + 1) * HOUR)
            .group_by(bucket)
        )
        found = {int(h): int(n) for h, n in conn.execute(stmt)}
    counts = [found.get(start_hour + k, 0) for k in range(hours)]
    return HourlySeries(start=start_hour * HOUR, counts=counts)


def _hour_bucket(store: Store, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The hour number of a (non-negative) timestamp: SQLite's CAST truncates, PostgreSQL's
    rounds, so PostgreSQL takes FLOOR first."""
    if store.dialect == "postgresql":
        return sa.cast(sa.func.floor(column / HOUR), sa.BigInteger)
    return sa.cast(column / HOUR, sa.Integer)
