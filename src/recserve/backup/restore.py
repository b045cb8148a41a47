"""``restore``: a dump archive into a store and a registry folder.

The target must be empty (no row in any table, no model in the registry) unless
``force``, which replaces what is there. The rows go in in one transaction, checked
against the manifest's counts before it commits; PostgreSQL's event id sequence is moved
past the restored ids. The registry is unpacked beside the target folder and renamed into
place once complete. A dump of an older schema revision is restored into the current
schema (tables added since stay empty); a newer one is refused.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

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
from recserve.store import Store, schema
from recserve.store.database import MIGRATIONS_DIR

Progress = Callable[[str], None]


def read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
    except KeyError:
        member = None
    if member is None:
        raise BackupError("not a recserve dump: manifest.json is missing")
    manifest = json.loads(member.read())
    if manifest.get("format") != FORMAT:
        raise BackupError("not a recserve dump: unknown format in manifest.json")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise BackupError(
            f"dump format {manifest['format_version']} is newer than this recserve reads "
            f"({FORMAT_VERSION}): restore it with the recserve version that wrote it"
        )
    return manifest


def check_revision(revision: str) -> None:
    """The dump's schema must be this recserve's or an earlier one."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(config)
    known = {script.revision for script in scripts.walk_revisions()}
    if revision not in known:
        raise BackupError(
            f"the dump's schema revision {revision} is unknown to this recserve (head "
            f"{scripts.get_current_head()}): restore it with the version that wrote it"
        )


def contents(store: Store, registry_root: Path) -> dict[str, int]:
    """What the target holds: rows per non-empty table, and model versions."""
    held: dict[str, int] = {}
    with store.engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            rows = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            if rows:
                held[table.name] = int(rows)
    root = Path(registry_root)
    if root.is_dir():
        versions = [v for m in root.iterdir() if m.is_dir() for v in m.glob("v*") if v.is_dir()]
        if versions or (root / "champions.json").exists():
            held["model versions"] = len(versions)
    return held


def _rows(member: IO[bytes]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for line in member:
        if line.strip():
            batch.append(json.loads(line))
            if len(batch) >= ROWS_PER_BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _reset_sequences(conn: sa.Connection) -> None:
    """PostgreSQL: each serial key's next value follows the largest restored one."""
    if conn.dialect.name != "postgresql":
        return  # SQLite's rowid continues from the largest present
    for table in dumped_tables():
        column = table.autoincrement_column
        if column is None:
            continue
        conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                f"COALESCE(MAX({column.name}), 1), MAX({column.name}) IS NOT NULL) "
                f"FROM {table.name}"
            )
        )


def _restore_tables(
    store: Store, tar: tarfile.TarFile, manifest: dict[str, Any], force: bool, report: Progress
) -> None:
    tables = {t.name: t for t in dumped_tables()}
    unknown = sorted(set(manifest["tables"]) - set(tables))
    if unknown:
        raise BackupError(f"the dump holds tables this recserve does not know: {unknown}")
    with store.engine.begin() as conn:
        if force:
            for table in reversed(schema.metadata.sorted_tables):
                conn.execute(sa.delete(table))
        for name, expected in manifest["tables"].items():
            member = tar.extractfile(table_member(name))
            if member is None:
                raise BackupError(f"the dump lacks {table_member(name)}")
            table = tables[name]
            for rows in _rows(member):
                conn.execute(sa.insert(table), rows)
            restored = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            if restored != expected:  # rolls the whole restore back
                raise BackupError(f"{name}: {restored} rows restored, the manifest says {expected}")
            report(f"{name}: {restored} rows")
        _reset_sequences(conn)


def _restore_registry(tar: tarfile.TarFile, registry_root: Path) -> int:
    """Unpack the registry beside ``registry_root`` and swap it into place."""
    root = Path(registry_root)
    root.parent.mkdir(parents=True, exist_ok=True)
    prefix = f"{REGISTRY_DIR}/"
    members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".recserve-restore-") as work:
        tar.extractall(work, members=members, filter="data")
        unpacked = Path(work) / REGISTRY_DIR
        unpacked.mkdir(exist_ok=True)
        old = Path(work) / "replaced"
        if root.exists():
            root.rename(old)
        unpacked.rename(root)
    return sum(1 for m in members if m.isfile())


def restore(
    path: Path,
    store: Store,
    registry_root: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Restore the archive at ``path``; returns its manifest. ``BackupError`` when the
    archive is not a dump this recserve can read, or the target holds data and not
    ``force``."""
    report = progress or (lambda _: None)
    try:
        tar = tarfile.open(path, "r:gz")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"cannot read {path}: {exc}") from exc
    with tar:
        manifest = read_manifest(tar)
        check_revision(str(manifest["schema_revision"]))
        held = contents(store, registry_root)
        if held and not force:
            summary = ", ".join(f"{name}: {n}" for name, n in held.items())
            raise BackupError(
                f"the target is not empty ({summary}); restore into an empty data "
                "directory and database, or pass --force to replace what is there"
            )
        _restore_tables(store, tar, manifest, force, report)
        files = _restore_registry(tar, registry_root)
        report(f"registry: {len(manifest['registry']['versions'])} model versions, {files} files")
    return manifest
