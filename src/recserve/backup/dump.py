"""``dump``: the store and the model registry in one archive, consistent while the service
runs.

- The tables are read in one read-only transaction that sees one snapshot: REPEATABLE
  READ on PostgreSQL, a deferred transaction on SQLite (WAL readers keep the snapshot of
  their first read). Events posted meanwhile are either wholly in the dump or not at all,
  and the rows counted for the manifest are the rows written (checked).
- The registry: ``champions.json`` and ``history.json`` are read once, then the version
  directories are copied; a version directory is immutable once renamed into place, and
  every champion named was in place before it was promoted.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import recserve
from recserve.backup.archive import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    REGISTRY_DIR,
    ROWS_PER_BATCH,
    BackupError,
    dumped_tables,
    table_member,
)
from recserve.registry.registry import CHAMPIONS, HISTORY
from recserve.store import Store
from recserve.store.database import current_revision

Progress = Callable[[str], None]


@contextmanager
def snapshot(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection whose reads all see one snapshot of the database."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield conn
            return
        # pysqlite begins transactions only before writes: begin one for the reads
        conn.exec_driver_sql("BEGIN DEFERRED")
        try:
            yield conn
        finally:
            conn.rollback()


def _write_table(conn: sa.Connection, table: sa.Table, path: Path) -> int:
    """Every row of ``table`` as JSON lines in key order; returns the rows written."""
    order = list(table.primary_key.columns) or list(table.columns)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        result = conn.execution_options(yield_per=ROWS_PER_BATCH).execute(
            sa.select(table).order_by(*order)
        )
        for chunk in result.mappings().partitions():
            out.write("".join(json.dumps(dict(row), separators=(",", ":")) + "\n" for row in chunk))
            written += len(chunk)
    return written


def _dump_tables(store: Store, folder: Path, progress: Progress) -> tuple[dict[str, int], str]:
    """Write each table's rows under ``folder``; returns rows per table and the revision."""
    counts: dict[str, int] = {}
    with snapshot(store.engine) as conn:
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        for table in dumped_tables():
            counted = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            progress(f"{table.name}: {counted} rows")
            written = _write_table(conn, table, folder / f"{table.name}.jsonl")
            if written != counted:  # the snapshot did not hold: never write such a dump
                raise BackupError(
                    f"{table.name} changed during the dump ({counted} rows counted, "
                    f"{written} read): the database gave no consistent snapshot"
                )
            counts[table.name] = written
    if revision is None:
        revision = current_revision(store.engine)
    return counts, str(revision)


def _registry_files(root: Path) -> tuple[dict[str, bytes], list[tuple[str, Path]], list[str]]:
    """(champions/history file contents read once, version files, version refs)."""
    fixed = {
        name: (root / name).read_bytes() for name in (CHAMPIONS, HISTORY) if (root / name).is_file()
    }
    files: list[tuple[str, Path]] = []
    refs: list[str] = []
    if root.is_dir():
        for model in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for version in sorted(
                p for p in model.iterdir() if p.is_dir() and p.name.startswith("v")
            ):
                refs.append(f"{model.name}/{version.name}")
                for path in sorted(version.rglob("*")):
                    if path.is_file():
                        files.append((path.relative_to(root).as_posix(), path))
    return fixed, files, refs


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def dump(
    store: Store, registry_root: Path, path: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Write the archive to ``path`` (under a temporary name, renamed when complete);
    returns its manifest."""
    report = progress or (lambda _: None)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fixed, files, refs = _registry_files(Path(registry_root))
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".recserve-dump-") as work:
        folder = Path(work)
        counts, revision = _dump_tables(store, folder, report)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "recserve_version": recserve.__version__,
            "schema_revision": revision,
            "dialect": store.dialect,
            "created_at": time.time(),
            "tables": counts,
            "registry": {
                "champions": json.loads(fixed[CHAMPIONS]) if CHAMPIONS in fixed else {},
                "versions": refs,
                "files": len(files) + len(fixed),
            },
        }
        report(f"registry: {len(refs)} model versions")
        partial = folder / "archive.tar.gz"
        with tarfile.open(partial, "w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            for name in counts:
                tar.add(folder / f"{name}.jsonl", arcname=table_member(name))
            for name, data in fixed.items():
                _add_bytes(tar, f"{REGISTRY_DIR}/{name}", data)
            for name, source in files:
                tar.add(source, arcname=f"{REGISTRY_DIR}/{name}")
        os.replace(partial, path)
    return manifest
