"""CRUD for the two entity tables keyed by a client string id: items and users."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from recserve.store import schema
from recserve.store.dialect import insert_for
from recserve.store.paging import decode_cursor, encode_cursor

# Defaults for columns a client may leave out when creating a row.
ITEM_DEFAULTS: dict[str, Any] = {
    "title": None,
    "text": None,
    "categories": [],
    "tags": [],
    "attributes": {},
    "published_at": None,
    "hidden": False,
}
USER_DEFAULTS: dict[str, Any] = {"attributes": {}, "tags": []}


GET_MANY_CHUNK = 30_000  # keys per query in ``get_many``
KEY_CHUNK = 50_000  # keys per page in ``key_chunks``


class EntityRepository:
    """Upsert, read, patch, delete and page through one entity table."""

    def __init__(self, engine: sa.Engine, table: sa.Table, key: str, defaults: dict[str, Any]):
        self.engine = engine
        self.table = table
        self.key = key
        self.key_column = table.c[key]
        self.defaults = defaults
        self.fields = list(defaults)

    def _full_row(self, row: Mapping[str, Any], now: float) -> dict[str, Any]:
        full = {self.key: row[self.key], "created_at": now, "updated_at": now}
        for name, default in self.defaults.items():
            value = row.get(name, default)
            full[name] = default if value is None and default is not None else value
        return full

    def upsert(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert or replace ``rows`` (all fields; created_at kept on replace); returns a count."""
        if not rows:
            return 0
        now = time.time()
        # Last write wins within a batch; sorted keys keep concurrent upserts deadlock-free.
        by_key = {row[self.key]: self._full_row(row, now) for row in rows}
        values = [by_key[k] for k in sorted(by_key)]
        stmt = insert_for(self.engine, self.table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[self.key],
            set_={name: stmt.excluded[name] for name in [*self.fields, "updated_at"]},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, values)
        return len(values)

    def ensure(self, conn: sa.Connection, keys: Iterable[str]) -> None:
        """Create bare rows for ``keys`` that do not exist yet (inside the caller's transaction)."""
        wanted = set(keys)
        if not wanted:
            return
        # most ids exist already: one indexed read, then insert only the new ones
        existing = conn.execute(sa.select(self.key_column).where(self.key_column.in_(wanted)))
        keys = sorted(wanted.difference(existing.scalars()))
        if not keys:
            return
        now = time.time()
        stmt = insert_for(self.engine, self.table).on_conflict_do_nothing(index_elements=[self.key])
        conn.execute(stmt, [self._full_row({self.key: k}, now) for k in keys])

    def get(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(self.table).where(self.key_column == key)).mappings().first()
            )
        return dict(row) if row else None

    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        wanted = list(set(keys))
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            # in chunks: SQLite allows 250,000 bound parameters, PostgreSQL 65,535, and a
            # served model at 1M items asks for every one of its items
            for start in range(0, len(wanted), GET_MANY_CHUNK):
                chunk = wanted[start : start + GET_MANY_CHUNK]
                rows = conn.execute(sa.select(self.table).where(self.key_column.in_(chunk)))
                out.update((r[self.key], dict(r)) for r in rows.mappings())
        return out

    def all_rows(
        self, columns: Sequence[str] | None = None, chunk_size: int = 100_000
    ) -> dict[str, dict[str, Any]]:
        """Every row (key -> its ``columns``, all by default) from one streamed query in
        key order: a training snapshot of a 1M-item catalogue without ``get_many``'s 1M
        bound parameters, and without decoding the JSON columns it does not need."""
        names = [self.key, *(c for c in (columns or self.table.c.keys()) if c != self.key)]
        stmt = sa.select(*(self.table.c[name] for name in names)).order_by(self.key_column)
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=chunk_size).execute(stmt)
            for chunk in result.partitions():
                out.update((row[0], dict(zip(names, row, strict=True))) for row in chunk)
        return out

    def columns_of(self, keys: Sequence[str], columns: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Only ``columns`` of the rows of ``keys``, in one query (a response's page of ids:
        at most a few hundred keys); missing keys are absent from the answer."""
        if not keys:
            return {}
        selected = [self.key_column, *(self.table.c[name] for name in columns)]
        stmt = sa.select(*selected).where(self.key_column.in_(list(set(keys))))
        with self.engine.connect() as conn:
            return {row[self.key]: dict(row) for row in conn.execute(stmt).mappings()}

    def patch(self, key: str, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        """Update the given fields only; None if the row does not exist."""
        changes = {k: v for k, v in changes.items() if k in self.defaults}
        with self.engine.begin() as conn:
            stmt = (
                sa.update(self.table)
                .where(self.key_column == key)
                .values(**changes, updated_at=time.time())
            )
            if conn.execute(stmt).rowcount == 0:
                return None
        return self.get(key)

    def delete(self, key: str, conn: sa.Connection | None = None) -> bool:
        if conn is None:
            with self.engine.begin() as own:
                return self.delete(key, own)
        return conn.execute(sa.delete(self.table).where(self.key_column == key)).rowcount > 0

    def page(self, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """Rows ordered by key after ``cursor``; the next cursor is None on the last page."""
        stmt = sa.select(self.table).order_by(self.key_column).limit(limit + 1)
        if cursor:
            stmt = stmt.where(self.key_column > decode_cursor(cursor))
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
        if len(rows) > limit:
            rows = rows[:limit]
            return rows, encode_cursor(rows[-1][self.key])
        return rows, None

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one()
            )

    def key_chunks(self, size: int = KEY_CHUNK) -> Iterator[list[str]]:
        """Every key in order, ``size`` at a time (keyset pages, each its own short read):
        a caller scanning a 1M-row table never holds a Python string per row at once."""
        after: str | None = None
        while True:
            stmt = sa.select(self.key_column).order_by(self.key_column).limit(size)
            if after is not None:
                stmt = stmt.where(self.key_column > after)
            with self.engine.connect() as conn:
                keys = list(conn.execute(stmt).scalars())
            if keys:
                yield keys
            if len(keys) < size:
                return
            after = keys[-1]

    def keys_flagged(self, column: str) -> list[str]:
        """The keys of the rows whose boolean ``column`` is true (e.g. hidden items)."""
        stmt = sa.select(self.key_column).where(self.table.c[column].is_(True))
        with self.engine.connect() as conn:
            return list(conn.execute(stmt.order_by(self.key_column)).scalars())

    def all_keys(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(sa.select(self.key_column).order_by(self.key_column)).scalars()
            )


def item_repository(engine: sa.Engine) -> EntityRepository:
    return EntityRepository(engine, schema.items, "item_id", ITEM_DEFAULTS)


def user_repository(engine: sa.Engine) -> EntityRepository:
    return EntityRepository(engine, schema.users, "user_id", USER_DEFAULTS)
