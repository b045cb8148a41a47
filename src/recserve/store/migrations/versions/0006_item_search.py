"""Full-text search over items: an FTS5 index kept by triggers on SQLite, a GIN expression
index on PostgreSQL (recserve.store.text_search queries both).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from recserve.store.text_search import FTS_TABLE, PG_DOCUMENT, PG_INDEX

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = "title, text, categories, tags"
NEW = "new.rowid, new.title, new.text, new.categories, new.tags"
OLD = "old.rowid, old.title, old.text, old.categories, old.tags"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {PG_INDEX} ON items USING GIN (({PG_DOCUMENT}))")
        return
    # external content: the index points at items' rows and keeps no copy of the text
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({COLUMNS}, content='items', "
        "content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')"
    )
    delete = f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {COLUMNS}) VALUES ('delete', {OLD});"
    insert = f"INSERT INTO {FTS_TABLE}(rowid, {COLUMNS}) VALUES ({NEW});"
    op.execute(f"CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON items BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON items BEGIN {delete} END")
    op.execute(f"CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE ON items BEGIN {delete} {insert} END")
    op.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")  # existing items


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX {PG_INDEX}")
        return
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER {FTS_TABLE}_{suffix}")
    op.execute(f"DROP TABLE {FTS_TABLE}")
