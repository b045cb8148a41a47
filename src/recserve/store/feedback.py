"""Feedback events: idempotent batch ingestion, per-user and per-item listings, snapshots."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from recserve.store import schema
from recserve.store.entities import EntityRepository
from recserve.store.paging import decode_event_cursor, encode_event_cursor

EVENT_FIELDS = (
    "event_id",
    "user_id",
    "item_id",
    "type",
    "value",
    "timestamp",
    "session_id",
    "recommendation_id",
)


_EVENTS = schema.events
# every event of one user, oldest first (ties by insertion): built once, bound per call
_USER_HISTORY = (
    sa.select(_EVENTS.c.item_id, _EVENTS.c.type, _EVENTS.c.value, _EVENTS.c.timestamp)
    .where(_EVENTS.c.user_id == sa.bindparam("user_id"))
    .order_by(_EVENTS.c.timestamp, _EVENTS.c.id)
)


@dataclass(frozen=True)
class UserEvents:
    """One user's events, oldest first, as columns (no object per event)."""

    item_ids: list[str]
    types: list[str]
    values: np.ndarray  # float64, NaN where the event has no value

    def __len__(self) -> int:
        return len(self.item_ids)


@dataclass(frozen=True)
class IngestResult:
    accepted: int  # newly stored
    duplicates: int  # skipped because their event_id was already stored (or repeated in the batch)


@dataclass(frozen=True)
class EventColumns:
    """All events as parallel arrays, in ingestion order: the input of every training run."""

    user_ids: np.ndarray  # object array of str
    item_ids: np.ndarray  # object array of str
    types: np.ndarray  # object array of str
    values: np.ndarray  # float64, NaN where the event had no value
    timestamps: np.ndarray  # float64 Unix seconds
    session_ids: np.ndarray  # object array of str or None

    def __len__(self) -> int:
        return len(self.user_ids)


_COLUMNS = ", ".join(f'"{name}"' for name in EVENT_FIELDS)
_STAGING_DDL = (
    "CREATE TEMP TABLE staging_events (ord BIGINT GENERATED ALWAYS AS IDENTITY, "
    "event_id TEXT, user_id TEXT, item_id TEXT, type TEXT, value DOUBLE PRECISION, "
    '"timestamp" DOUBLE PRECISION, session_id TEXT, recommendation_id TEXT) ON COMMIT DROP'
)
_USER, _ITEM = EVENT_FIELDS.index("user_id"), EVENT_FIELDS.index("item_id")
# Below this many events a plain INSERT beats COPY: the staging table's catalogue writes
# cost more than they save (about 5 ms for a single event).
COPY_MIN_ROWS = 200


def _insert_sql(placeholder: str) -> str:
    values = ", ".join([placeholder] * len(EVENT_FIELDS))
    return f"INSERT INTO events ({_COLUMNS}) VALUES ({values}) ON CONFLICT (event_id) DO NOTHING"


@contextlib.contextmanager
def _driver_errors(conn: sa.Connection, statement: str) -> Iterator[None]:
    """Errors of the driver's own cursor raised as SQLAlchemy's (``IntegrityError``,
    ``DataError``...), as ``conn.execute`` raises them, so the API answers them as 4xx."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        wrapped = sa.exc.DBAPIError.instance(
            statement, None, exc, dbapi_error, hide_parameters=True, dialect=conn.dialect
        )
        raise cast(BaseException, wrapped) from exc


def _insert_events(conn: sa.Connection, rows: list[tuple[Any, ...]], placeholder: str) -> int:
    """``executemany`` on the driver's cursor: SQLAlchemy's per-row parameter processing cost
    more than SQLite's own work. Both drivers sum the rows each statement inserted."""
    statement = _insert_sql(placeholder)
    dbapi = conn.connection.driver_connection
    cursor = dbapi.cursor()  # type: ignore[union-attr]
    try:
        with _driver_errors(conn, statement):
            cursor.executemany(statement, rows)
        return int(cursor.rowcount)
    finally:
        cursor.close()


_STAGING = sa.table("staging_events", sa.column("user_id"), sa.column("item_id"))


def _ensure_from_staging(conn: sa.Connection, repo: EntityRepository, column: str) -> None:
    """Bare rows, with the repository's defaults, for every id of ``column`` in the staging
    table that ``repo`` lacks: one statement, instead of a query with thousands of bound ids
    and an insert of the missing ones (half the time of a batch). Sorted, as ``ensure`` does,
    so concurrent batches cannot deadlock."""
    now = time.time()
    table = repo.table
    values: dict[str, Any] = {"created_at": now, "updated_at": now, **repo.defaults}
    ids = sa.select(_STAGING.c[column].label("id")).distinct().subquery()
    select = sa.select(
        ids.c.id, *(sa.literal(v, table.c[name].type) for name, v in values.items())
    ).order_by(ids.c.id)
    stmt = (
        postgresql.insert(table)
        .from_select([repo.key, *values], select)
        .on_conflict_do_nothing(index_elements=[repo.key])
    )
    conn.execute(stmt)


def _copy_events_postgres(
    conn: sa.Connection,
    rows: list[tuple[Any, ...]],
    users: EntityRepository,
    items: EntityRepository,
) -> int:
    """COPY the batch into a staging table, create its unknown users and items from there,
    then one INSERT ... ON CONFLICT DO NOTHING into ``events``.

    About four times faster than multi-row INSERTs through the driver; the staging table
    lives only for the transaction, so the batch still lands whole or not at all.
    """
    dbapi = conn.connection.driver_connection
    copy_sql = f"COPY staging_events ({_COLUMNS}) FROM STDIN"
    with dbapi.cursor() as cursor, _driver_errors(conn, copy_sql):  # type: ignore[union-attr]
        cursor.execute(_STAGING_DDL)
        with cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
    _ensure_from_staging(conn, users, "user_id")
    _ensure_from_staging(conn, items, "item_id")
    insert_sql = (
        f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM staging_events "
        "ORDER BY ord ON CONFLICT (event_id) DO NOTHING"
    )
    with dbapi.cursor() as cursor, _driver_errors(conn, insert_sql):  # type: ignore[union-attr]
        cursor.execute(insert_sql)
        return int(cursor.rowcount)


class FeedbackRepository:
    def __init__(self, engine: sa.Engine, items: EntityRepository, users: EntityRepository):
        self.engine = engine
        self.items = items
        self.users = users
        self.table = schema.events

    def add(self, events: Sequence[Mapping[str, Any]]) -> IngestResult:
        """Store ``events`` in one transaction, creating unknown users and items on the fly.

        Events whose ``event_id`` is already stored are skipped, so a client may retry a
        batch safely. Either the whole batch is stored or none of it, and it is committed
        (durably: WAL with synchronous=FULL on SQLite) before this returns.
        """
        if not events:
            return IngestResult(0, 0)
        rows = [tuple(map(event.get, EVENT_FIELDS)) for event in events]
        postgres = self.engine.dialect.name == "postgresql"
        with self.engine.begin() as conn:
            if postgres and len(rows) >= COPY_MIN_ROWS:
                inserted = _copy_events_postgres(conn, rows, self.users, self.items)
            else:
                self.users.ensure(conn, {str(row[_USER]) for row in rows})
                self.items.ensure(conn, {str(row[_ITEM]) for row in rows})
                inserted = _insert_events(conn, rows, "%s" if postgres else "?")
        return IngestResult(inserted, len(rows) - inserted)

    def _listing(
        self, column: sa.Column[Any], key: str, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first by event time (then by arrival, for events of the same time), paged
        by a cursor holding the last row's (timestamp, sequence number)."""
        t = self.table
        stmt = (
            sa.select(t)
            .where(column == key)
            .order_by(t.c.timestamp.desc(), t.c.id.desc())
            .limit(limit + 1)
        )
        if cursor:
            at, before = decode_event_cursor(cursor)
            stmt = stmt.where(
                sa.or_(t.c.timestamp < at, sa.and_(t.c.timestamp == at, t.c.id < before))
            )
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_event_cursor(rows[-1]["timestamp"], rows[-1]["id"])
        return rows, next_cursor

    def for_user(self, user_id: str, cursor: str | None = None, limit: int = 100):
        return self._listing(self.table.c.user_id, user_id, cursor, limit)

    def for_item(self, item_id: str, cursor: str | None = None, limit: int = 100):
        return self._listing(self.table.c.item_id, item_id, cursor, limit)

    def user_history(self, user_id: str) -> list[tuple[str, str, float | None, float]]:
        """(item_id, type, value, timestamp) of every event of a user, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(_USER_HISTORY, {"user_id": user_id}).all()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def user_events(self, user_id: str) -> UserEvents:
        """A user's events as compact columns, oldest first: what serving reads for a user
        it does not hold in memory. One indexed query (``ix_events_user_ts``) through a
        statement built once: building the select per call cost three times the query
        itself (720 against 226 us a user on SQLite, docs/benchmarks.md, Serving)."""
        with self.engine.connect() as conn:
            rows = conn.execute(_USER_HISTORY, {"user_id": user_id}).all()
        if not rows:
            return UserEvents([], [], np.empty(0, dtype=np.float64))
        item_ids, types, values, _ = zip(*rows, strict=True)
        numbers = np.fromiter(
            (np.nan if v is None else v for v in values), dtype=np.float64, count=len(values)
        )
        return UserEvents(list(item_ids), list(types), numbers)

    def user_histories(
        self, user_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, str, float | None, float]]]:
        """``user_history`` of many users in one query: every listed user is a key, with
        their events oldest first (an empty list for a user without any)."""
        t = self.table
        out: dict[str, list[tuple[str, str, float | None, float]]] = {u: [] for u in user_ids}
        if not out:
            return out
        stmt = (
            sa.select(t.c.user_id, t.c.item_id, t.c.type, t.c.value, t.c.timestamp)
            .where(t.c.user_id.in_(list(out)))
            .order_by(t.c.user_id, t.c.timestamp, t.c.id)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(stmt):
                out[row[0]].append((row[1], row[2], row[3], row[4]))
        return out

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one()
            )

    def delete_user(self, conn: sa.Connection, user_id: str) -> int:
        return conn.execute(sa.delete(self.table).where(self.table.c.user_id == user_id)).rowcount

    def delete_item(self, conn: sa.Connection, item_id: str) -> int:
        return conn.execute(sa.delete(self.table).where(self.table.c.item_id == item_id)).rowcount

    def columns(self, chunk_size: int = 100_000) -> EventColumns:
        """Every stored event as arrays, read in chunks so memory stays near the result's size."""
        t = self.table
        stmt = sa.select(
            t.c.user_id, t.c.item_id, t.c.type, t.c.value, t.c.timestamp, t.c.session_id
        ).order_by(t.c.id)
        parts: list[list[Any]] = [[], [], [], [], [], []]
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=chunk_size).execute(stmt)
            for chunk in result.partitions():
                for column, values in zip(parts, zip(*chunk, strict=True), strict=True):
                    column.extend(values)
        obj = lambda xs: np.array(xs, dtype=object)  # noqa: E731
        value_array = np.array([np.nan if v is None else v for v in parts[3]], dtype=np.float64)
        return EventColumns(
            user_ids=obj(parts[0]),
            item_ids=obj(parts[1]),
            types=obj(parts[2]),
            values=value_array,
            timestamps=np.array(parts[4], dtype=np.float64),
            session_ids=obj(parts[5]),
        )
