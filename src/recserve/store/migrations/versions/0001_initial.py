"""Initial schema: items, users, events, relations.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 256


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("item_id", sa.String(ID), primary_key=True),
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
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(ID), primary_key=True),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(ID), nullable=True),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("item_id", sa.String(ID), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("session_id", sa.String(ID), nullable=True),
        sa.Column("recommendation_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_events_event_id", "events", ["event_id"], unique=True)
    op.create_index("ix_events_user_ts", "events", ["user_id", "timestamp"])
    op.create_index("ix_events_item", "events", ["item_id"])
    op.create_index("ix_events_session", "events", ["session_id"])
    op.create_table(
        "relations",
        sa.Column("user_id", sa.String(ID), primary_key=True),
        sa.Column("other_user_id", sa.String(ID), primary_key=True),
        sa.Column("type", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_relations_other", "relations", ["other_user_id"])


def downgrade() -> None:
    op.drop_table("relations")
    op.drop_table("events")
    op.drop_table("users")
    op.drop_table("items")
