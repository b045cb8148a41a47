"""A/B experiments: definitions, the log of lists served under them, and an index on the
events' recommendation_id for attributing feedback to those lists.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("variants", sa.JSON, nullable=False),
        sa.Column("click_types", sa.JSON, nullable=False),
        sa.Column("conversion_types", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("stopped_at", sa.Float, nullable=True),
    )
    op.create_index("ix_experiments_scenario_status", "experiments", ["scenario", "status"])
    op.create_table(
        "recommendation_log",
        sa.Column("recommendation_id", sa.String(64), primary_key=True),
        sa.Column("experiment_id", sa.String(64), nullable=False),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("served_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_recommendation_log_experiment", "recommendation_log", ["experiment_id", "variant"]
    )
    op.create_index("ix_recommendation_log_user", "recommendation_log", ["user_id"])
    op.create_index("ix_events_recommendation", "events", ["recommendation_id"])


def downgrade() -> None:
    op.drop_index("ix_events_recommendation", table_name="events")
    op.drop_table("recommendation_log")
    op.drop_table("experiments")
