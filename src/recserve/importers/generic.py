"""Generic CSV and JSONL files of items, users, feedback events or relations.

CSV: a header row names the fields of the API's create bodies (``ItemCreate``,
``UserCreate``, ``FeedbackCreate``, ``RelationCreate``). An empty cell is a missing value;
``categories`` and ``tags`` cells are ``|``-separated lists; an ``attributes`` cell is a
JSON object. JSONL: one JSON object per line, shaped exactly like an API body.

A file's kind is given, or guessed from its columns: ``item_id`` and ``type`` make events,
``other_user_id`` relations, ``item_id`` items, ``user_id`` users. A directory holds one
file per kind, named ``items``, ``users``, ``events`` and ``relations`` (``.csv``, ``.jsonl``
or ``.ndjson``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from recserve.importers.parts import KINDS, BadRow, Kind, Part, Raw, Rows
from recserve.importers.readers import csv_records
from recserve.importers.report import UnknownFormatError

LIST_COLUMNS = frozenset({"categories", "tags"})
JSON_COLUMNS = frozenset({"attributes"})
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def guess_kind(fields: Iterable[str]) -> Kind | None:
    names = set(fields)
    if {"item_id", "type"} <= names:
        return "events"
    if "other_user_id" in names:
        return "relations"
    if "item_id" in names:
        return "items"
    if "user_id" in names:
        return "users"
    return None


def _csv_cells(record: dict[str, str]) -> Raw:
    row: dict[str, Any] = {}
    for name, text in record.items():
        if text == "":
            continue
        if name in LIST_COLUMNS:
            row[name] = [label.strip() for label in text.split("|") if label.strip()]
        elif name in JSON_COLUMNS:
            try:
                row[name] = json.loads(text)
            except json.JSONDecodeError as exc:
                return BadRow(f"{name}: not valid JSON ({exc.msg})")
        else:
            row[name] = text
    return row


def _read_csv(path: Path) -> Rows:
    for number, record in csv_records(path):
        yield number, record if isinstance(record, BadRow) else _csv_cells(record)


def _jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line
    except UnicodeDecodeError as exc:
        raise UnknownFormatError(f"{path.name}: not UTF-8 text ({exc.reason})") from None


def _read_jsonl(path: Path) -> Rows:
    for number, line in _jsonl_lines(path):
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, BadRow(f"not valid JSON ({exc.msg}, column {exc.colno})")
            continue
        yield number, value if isinstance(value, dict) else BadRow("expected a JSON object")


def _fields(path: Path, fmt: str) -> list[str]:
    """The column names of a CSV file, or the keys of a JSONL file's first object."""
    if fmt == "csv":
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                return next(csv.reader(handle), [])
        except UnicodeDecodeError as exc:
            raise UnknownFormatError(f"{path.name}: not UTF-8 text ({exc.reason})") from None
    for _, line in _jsonl_lines(path):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return list(value)
    return []


def file_part(path: Path, fmt: str, kind: Kind | None = None) -> Part:
    """One generic file; ``kind`` None guesses it from the columns."""
    if kind is None:
        kind = guess_kind(_fields(path, fmt))
        if kind is None:
            raise UnknownFormatError(
                f"{path.name}: cannot tell whether it holds items, users, events or relations "
                "from its columns; give the kind"
            )
    reader = _read_csv if fmt == "csv" else _read_jsonl
    return Part(kind, path.name, lambda: reader(path))


def directory_parts(directory: Path, fmt: str) -> list[Part]:
    """One part per ``<kind>.<ext>`` file of ``fmt`` in a directory."""
    parts = []
    for kind in KINDS:
        found = [
            p
            for p in sorted(directory.glob(f"{kind}.*"))
            if EXTENSIONS.get(p.suffix.lower()) == fmt
        ]
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise UnknownFormatError(f"{directory} holds several {kind} files ({names}); keep one")
        if found:
            parts.append(file_part(found[0], EXTENSIONS[found[0].suffix.lower()], kind))
    if not parts:
        raise UnknownFormatError(
            f"{directory}: no items, users, events or relations file (.csv, .jsonl, .ndjson) found"
        )
    return parts


def generic_formats(directory: Path) -> set[str]:
    """The formats ("csv", "jsonl") of the kind-named files in ``directory``."""
    return {
        EXTENSIONS[p.suffix.lower()]
        for kind in KINDS
        for p in directory.glob(f"{kind}.*")
        if p.suffix.lower() in EXTENSIONS
    }
