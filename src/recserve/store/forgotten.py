"""Forgotten users: the privacy delete's lasting mark.

Deleting a user removes their rows, but a model trained before the deletion still holds a
vector or a neighbour row for them. Each deletion is recorded here (the SHA-256 of the user
id, so no id is kept in clear, and the time of the latest deletion) so that every serving
replica, also after a restart, stops using what such a model learnt about the user. A model
whose data snapshot was taken after the deletion no longer holds the old data and may use
the id again (a new person who reused it).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from recserve.store import schema
from recserve.store.dialect import insert_for

# Manifest fields that may hold the time a model's training data was read from the store,
# newest convention first; ``created_at`` (registration time) is the last resort.
SNAPSHOT_FIELDS: tuple[tuple[str, ...], ...] = (
    ("data", "snapshot_at"),
    ("snapshot_at",),
    ("data", "snapshot_time"),
    ("data", "taken_at"),
)


def user_key(user_id: str) -> str:
    """The stored form of a user id: its SHA-256, hex."""
    return hashlib.sha256(user_id.encode("utf-8", errors="surrogatepass")).hexdigest()


def snapshot_time(manifest: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """(when the model's data snapshot was taken, the manifest field it came from).

    Falls back to ``created_at`` when no snapshot field exists; (None, None) for neither.
    """
    for path in (*SNAPSHOT_FIELDS, ("created_at",)):
        value: Any = manifest
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value), ".".join(path)
    return None, None


class ForgottenUsers:
    """The ``forgotten_users`` table: user key -> time of the latest deletion."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.table = schema.forgotten_users

    def mark(self, conn: sa.Connection, user_id: str, at: float | None = None) -> float:
        """Record a deletion in the caller's transaction; returns its time."""
        at = time.time() if at is None else at
        stmt = insert_for(self.engine, self.table).values(user_key=user_key(user_id), deleted_at=at)
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_key"], set_={"deleted_at": stmt.excluded.deleted_at}
        )
        conn.execute(stmt)
        return at

    def mark_committed(self, user_id: str) -> float:
        """Move the mark to now, after the deletion committed: a snapshot whose read began
        before the commit may still hold the user's rows, so ``deleted_at`` must not be
        earlier than the commit (the in-transaction mark only covers a crash in between)."""
        with self.engine.begin() as conn:
            return self.mark(conn, user_id)

    def deleted_at(self, user_id: str) -> float | None:
        t = self.table
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(t.c.deleted_at).where(t.c.user_key == user_key(user_id))
            ).scalar()
        return None if value is None else float(value)

    def all(self) -> dict[str, float]:
        """Every mark: user key -> deletion time (loaded by the serving engine)."""
        t = self.table
        with self.engine.connect() as conn:
            return {
                str(k): float(v) for k, v in conn.execute(sa.select(t.c.user_key, t.c.deleted_at))
            }
