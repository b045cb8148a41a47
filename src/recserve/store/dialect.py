"""Dialect-specific INSERT ... ON CONFLICT, the one place SQLite and PostgreSQL differ."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(engine: sa.Engine, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    """An ``INSERT`` that supports ``on_conflict_do_nothing/do_update`` on this engine."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
