"""The dump archive's format, shared by ``dump`` and ``restore``.

One gzip-compressed tar::

    manifest.json              format, format version, recserve version, the schema's
                               Alembic revision, the source dialect, rows per table,
                               registry contents (champions, versions, files)
    tables/<table>.jsonl       one JSON object per row, columns by name, in key order
    registry/...               the model registry folder: every version directory,
                               champions.json, history.json

Every table of the schema is dumped except ``batch_jobs``, whose results are files kept
outside the store (a restored job would point to a file that is not there).
"""

from __future__ import annotations

import sqlalchemy as sa

from recserve.store import schema

FORMAT = "recserve-dump"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TABLES_DIR = "tables"
REGISTRY_DIR = "registry"
SKIPPED_TABLES = frozenset({"batch_jobs"})
ROWS_PER_BATCH = 2000  # rows read or inserted at a time


class BackupError(RuntimeError):
    """A dump or restore that cannot go on; the message says why and what to do."""


def dumped_tables() -> list[sa.Table]:
    """The tables a dump holds, in a fixed order."""
    return [t for t in schema.metadata.sorted_tables if t.name not in SKIPPED_TABLES]


def table_member(name: str) -> str:
    return f"{TABLES_DIR}/{name}.jsonl"
