"""Import a source into the store: detect its format, validate every row, then write.

Nothing is written until every row of every file of the source has passed the API's
schema models (and, for events, names a configured feedback type), so a bad file never
leaves a half-imported source behind. Writing then goes in batches, items and users first,
then events, then relations; each batch is one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from tqdm import tqdm

from recserve.config import FeedbackType, default_feedback_types
from recserve.importers.generic import EXTENSIONS, directory_parts, file_part, generic_formats
from recserve.importers.lastfm import lastfm_2k
from recserve.importers.movielens import movielens_100k, movielens_latest_small
from recserve.importers.parts import KINDS, Kind, Part, rows_part
from recserve.importers.report import (
    MAX_PROBLEMS,
    ImportFailed,
    ImportReport,
    ImportValidationError,
    UnknownFormatError,
)
from recserve.importers.validation import RowValidator
from recserve.store import Store

GENERIC_FORMATS = ("csv", "jsonl")
DATASET_FORMATS: dict[str, Callable[[Path], list[Part]]] = {
    "movielens-100k": movielens_100k,
    "movielens-latest-small": movielens_latest_small,
    "lastfm-2k": lastfm_2k,
}
FORMATS = (*GENERIC_FORMATS, *DATASET_FORMATS)
# Validated rows of one part kept in memory between the checking and the writing pass;
# a larger part is read and validated a second time instead.
KEEP_VALIDATED_ROWS = 500_000

T = TypeVar("T")


def detect_format(source: Path) -> str:
    """The format of ``source``: a data-set layout for a directory, else by file extension."""
    if source.is_dir():
        if (source / "u.data").is_file():
            return "movielens-100k"
        if (source / "ratings.csv").is_file() and (source / "movies.csv").is_file():
            return "movielens-latest-small"
        if (source / "user_artists.dat").is_file():
            return "lastfm-2k"
        formats = generic_formats(source)
        if len(formats) == 1:
            return formats.pop()
        if formats:
            raise UnknownFormatError(
                f"{source} holds both csv and jsonl files; give the format to import"
            )
        raise UnknownFormatError(
            f"{source}: not a MovieLens or Last.fm directory, and no items/users/events/"
            "relations .csv or .jsonl file in it"
        )
    if source.is_file():
        fmt = EXTENSIONS.get(source.suffix.lower())
        if fmt is None:
            raise UnknownFormatError(
                f"{source.name}: cannot tell the format from the extension; give one of {FORMATS}"
            )
        return fmt
    raise UnknownFormatError(f"{source} does not exist")


def source_parts(source: Path, fmt: str, kind: Kind | None) -> list[Part]:
    if fmt in DATASET_FORMATS:
        if kind is not None:
            raise UnknownFormatError(f"kind applies to csv and jsonl files, not to {fmt}")
        if not source.is_dir():
            raise UnknownFormatError(f"{fmt} needs the data set's directory, not {source}")
        return DATASET_FORMATS[fmt](source)
    if source.is_dir():
        if kind is not None:
            raise UnknownFormatError(
                "kind applies to one file; a directory's files are named by kind"
            )
        return directory_parts(source, fmt)
    if not source.is_file():
        raise UnknownFormatError(f"{source} does not exist")
    return [file_part(source, fmt, kind)]


def import_source(
    store: Store,
    source: Path | str,
    *,
    format: str | None = None,
    kind: str | None = None,
    feedback_types: Mapping[str, FeedbackType] | None = None,
    progress: bool = False,
    batch_size: int = 10_000,
) -> ImportReport:
    """Import a file or a data-set directory into ``store``.

    ``format`` is one of ``FORMATS`` (None: detected, see ``detect_format``); ``kind`` is
    ``items``, ``users``, ``events`` or ``relations`` for a generic file (None: guessed from
    its columns). Events must name one of ``feedback_types`` (default: the service's
    default types). Raises ``ImportValidationError`` (nothing written) when rows are bad,
    ``UnknownFormatError`` when the source cannot be read as the format.
    """
    source = Path(source)
    fmt = format or detect_format(source)
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if kind is not None and kind not in KINDS:
        raise UnknownFormatError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    parts = source_parts(source, fmt, cast(Kind | None, kind))
    return import_parts(
        store,
        parts,
        source=source.name or str(source),
        format=fmt,
        feedback_types=feedback_types,
        progress=progress,
        batch_size=batch_size,
    )


def import_rows(
    store: Store,
    *,
    items: Iterable[Mapping[str, Any]] = (),
    users: Iterable[Mapping[str, Any]] = (),
    events: Iterable[Mapping[str, Any]] = (),
    relations: Iterable[Mapping[str, Any]] = (),
    feedback_types: Mapping[str, FeedbackType] | None = None,
    progress: bool = False,
    batch_size: int = 10_000,
    source: str = "rows",
) -> ImportReport:
    """Import in-memory rows shaped like the API's create bodies, with the same checks."""
    given: dict[Kind, Iterable[Mapping[str, Any]]] = {
        "items": items, "users": users, "events": events, "relations": relations
    }  # fmt: skip
    parts = [rows_part(k, f"{source} {k}", rows) for k, rows in given.items()]
    return import_parts(
        store, parts, source=source, format="rows", feedback_types=feedback_types,
        progress=progress, batch_size=batch_size,
    )  # fmt: skip


def _batches(rows: Iterator[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _bar(desc: str, total: int | None, progress: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit=" rows", disable=not progress, leave=False)


def import_parts(
    store: Store,
    parts: Sequence[Part],
    *,
    source: str,
    format: str,
    feedback_types: Mapping[str, FeedbackType] | None = None,
    progress: bool = False,
    batch_size: int = 10_000,
) -> ImportReport:
    """Validate every part, then write them in kind order (see the module docstring)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started, now = time.perf_counter(), time.time()
    types = default_feedback_types() if feedback_types is None else feedback_types
    validator = RowValidator(types, MAX_PROBLEMS)
    ordered = sorted(parts, key=lambda p: KINDS.index(p.kind))

    # pass 1: check everything, keeping the validated rows of parts that fit in memory
    checked: list[tuple[Part, list[dict[str, Any]] | None, int]] = []
    for part in ordered:
        kept: list[dict[str, Any]] | None = []
        count = 0
        with _bar(f"checking {part.name}", None, progress) as bar:
            for row in validator.rows(part):
                bar.update()
                if row is None:
                    continue
                count += 1
                if kept is not None:
                    kept.append(row)
                    if len(kept) > KEEP_VALIDATED_ROWS:
                        kept = None
        checked.append((part, kept, count))
    if validator.total:
        raise ImportValidationError(source, validator.problems, validator.total)

    # pass 2: write in batches
    report = ImportReport(format=format)
    for part, kept, count in checked:
        rows = iter(kept) if kept is not None else _revalidated(validator, part)
        with _bar(f"importing {part.name}", count, progress) as bar:
            for batch in _batches(rows, batch_size):
                _write(store, part.kind, batch, report, now)
                bar.update(len(batch))
    report.seconds = time.perf_counter() - started
    return report


def _revalidated(validator: RowValidator, part: Part) -> Iterator[dict[str, Any]]:
    for row in validator.rows(part):
        if row is None:
            raise ImportFailed(
                f"{part.name} changed while it was being imported: {validator.problems[-1:]}"
            )
        yield row


def _write(
    store: Store, kind: Kind, batch: list[dict[str, Any]], report: ImportReport, now: float
) -> None:
    if kind == "items":
        report.items += store.items.upsert(batch)
    elif kind == "users":
        report.users += store.users.upsert(batch)
    elif kind == "events":
        for row in batch:
            if row["timestamp"] is None:
                row["timestamp"] = now  # as the API does: no time given means "now"
        result = store.feedback.add(batch)
        report.events += result.accepted
        report.duplicates += result.duplicates
    else:
        report.relations += store.relations.add(batch)
