"""The relational schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

External ids are the client's strings and are stored as given; models map them to
internal indices themselves (see ``recserve.data.vocab``). Times are Unix seconds
(float) so that both engines store and compare them the same way.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ID_LENGTH = 256

# SQLite only aliases INTEGER PRIMARY KEY to the rowid; PostgreSQL wants BIGINT.
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

items = sa.Table(
    "items",
    metadata,
    sa.Column("item_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("published_at", sa.Float, nullable=True),
    sa.Column("hidden", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("user_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("item_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("session_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("recommendation_id", sa.String(64), nullable=True),
    sa.Index("ix_events_event_id", "event_id", unique=True),
    sa.Index("ix_events_user_ts", "user_id", "timestamp"),
    sa.Index("ix_events_item", "item_id"),
    sa.Index("ix_events_session", "session_id"),
)

relations = sa.Table(
    "relations",
    metadata,
    sa.Column("user_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("other_user_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("type", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_relations_other", "other_user_id"),
)
