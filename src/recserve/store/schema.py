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

# Training jobs (migration 0002): state written by the worker process, read by any replica.
training_jobs = sa.Table(
    "training_jobs",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # queued/running/succeeded/failed
    sa.Column("trigger", sa.String(16), nullable=False),  # api/schedule/cli
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("progress", sa.Float, nullable=False),
    sa.Column("step", sa.Text, nullable=True),
    sa.Column("results", sa.JSON, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Index("ix_training_jobs_created", "created_at"),
    sa.Index("ix_training_jobs_status", "status"),
)

# Batch recommendation jobs (migration 0005): the same shape as training_jobs; run by
# recserve.batch.jobs in an API process, their result file under <data_dir>/batch.
batch_jobs = sa.Table(
    "batch_jobs",
    metadata,
    *(
        sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
        for c in training_jobs.columns
    ),
    sa.Index("ix_batch_jobs_created", "created_at"),
    sa.Index("ix_batch_jobs_status", "status"),
)

# Deleted users (migration 0003): the SHA-256 of the user id (no id is kept in clear) and
# the time of the latest deletion; see recserve.store.forgotten.
forgotten_users = sa.Table(
    "forgotten_users",
    metadata,
    sa.Column("user_key", sa.String(64), primary_key=True),
    sa.Column("deleted_at", sa.Float, nullable=False),
)

# A/B experiments (migration 0004): definitions, and one row per list served under one
# (which variant, to whom, which items), so later events carrying the list's
# recommendation_id are attributed to a variant; see recserve.experiments.
experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("experiment_id", sa.String(64), primary_key=True),
    sa.Column("scenario", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # draft/running/stopped
    sa.Column("variants", sa.JSON, nullable=False),  # [{name, share, model, scenario}]
    sa.Column("click_types", sa.JSON, nullable=False),
    sa.Column("conversion_types", sa.JSON, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("stopped_at", sa.Float, nullable=True),
    sa.Index("ix_experiments_scenario_status", "scenario", "status"),
)

recommendation_log = sa.Table(
    "recommendation_log",
    metadata,
    sa.Column("recommendation_id", sa.String(64), primary_key=True),
    sa.Column("experiment_id", sa.String(64), nullable=False),
    sa.Column("variant", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("model", sa.String(ID_LENGTH), nullable=False),  # name/version that answered
    sa.Column("items", sa.JSON, nullable=False),  # the item ids shown, in order
    sa.Column("served_at", sa.Float, nullable=False),
    sa.Index("ix_recommendation_log_experiment", "experiment_id", "variant"),
    sa.Index("ix_recommendation_log_user", "user_id"),
)

# Attribution joins events to the list they name (migration 0004).
sa.Index("ix_events_recommendation", events.c.recommendation_id)
