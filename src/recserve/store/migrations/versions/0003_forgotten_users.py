"""Forgotten users: when each deleted user was deleted, so served models trained on data
taken before then stop using what they learnt about that user.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forgotten_users",
        sa.Column("user_key", sa.String(64), primary_key=True),
        sa.Column("deleted_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("forgotten_users")
