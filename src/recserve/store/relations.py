"""User-user relations (friend, follow) for the social scenario."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from recserve.store import schema
from recserve.store.dialect import insert_for
from recserve.store.entities import EntityRepository


class RelationRepository:
    def __init__(self, engine: sa.Engine, users: EntityRepository):
        self.engine = engine
        self.users = users
        self.table = schema.relations

    def add(self, relations: Sequence[Mapping[str, Any]]) -> int:
        """Store relations (idempotent), creating unknown users; returns how many were new."""
        if not relations:
            return 0
        now = time.time()
        rows = sorted(
            {(r["user_id"], r["other_user_id"], r.get("type") or "friend") for r in relations}
        )
        values = [
            {"user_id": u, "other_user_id": o, "type": t, "created_at": now} for u, o, t in rows
        ]
        stmt = (
            insert_for(self.engine, self.table)
            .on_conflict_do_nothing(index_elements=["user_id", "other_user_id", "type"])
            .returning(self.table.c.user_id)
        )
        with self.engine.begin() as conn:
            self.users.ensure(conn, [u for u, _, _ in rows] + [o for _, o, _ in rows])
            return len(conn.execute(stmt, values).all())

    def for_user(self, user_id: str) -> list[dict[str, Any]]:
        """Relations where the user is on either side, outgoing first."""
        t = self.table
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t)
                .where(sa.or_(t.c.user_id == user_id, t.c.other_user_id == user_id))
                .order_by(t.c.user_id != user_id, t.c.other_user_id, t.c.type)
            )
            return [dict(r) for r in rows.mappings()]

    def delete_user(self, conn: sa.Connection, user_id: str) -> int:
        t = self.table
        stmt = sa.delete(t).where(sa.or_(t.c.user_id == user_id, t.c.other_user_id == user_id))
        return conn.execute(stmt).rowcount

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one()
            )

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All relations as (user_ids, other_user_ids, types) arrays."""
        t = self.table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.user_id, t.c.other_user_id, t.c.type)).all()
        if not rows:
            empty = np.array([], dtype=object)
            return empty, empty.copy(), empty.copy()
        users, others, types = zip(*rows, strict=True)
        return (
            np.array(users, dtype=object),
            np.array(others, dtype=object),
            np.array(types, dtype=object),
        )
