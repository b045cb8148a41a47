"""Small readers shared by the formats: text with a Latin-1 fallback, delimited files, tags."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from recserve.importers.parts import BadRow
from recserve.importers.report import UnknownFormatError
from recserve.schemas import LIST_MAX, Label

Record = dict[str, str] | BadRow


def read_text(path: Path) -> str:
    """A text file as UTF-8 (a BOM is dropped), falling back to Latin-1 for old data sets."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    # split on "\n" only: str.splitlines would also split inside names holding U+2028 and kin
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        yield number, line.removesuffix("\r")


def split_lines(path: Path, sep: str, n_fields: int) -> Iterator[tuple[int, list[str] | BadRow]]:
    """Numbered lines of a header-less delimited file without quoting; blank lines skipped."""
    for number, line in _lines(path):
        if not line.strip():
            continue
        fields = line.split(sep)
        if len(fields) != n_fields:
            yield (
                number,
                BadRow(f"expected {n_fields} fields separated by {sep!r}, found {len(fields)}"),
            )
        else:
            yield number, fields


def _check_header(path: Path, header: Sequence[str], required: Sequence[str]) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        raise UnknownFormatError(
            f"{path.name}: missing column(s) {', '.join(missing)} (header: {', '.join(header)})"
        )


def tsv_records(path: Path, required: Sequence[str]) -> Iterator[tuple[int, Record]]:
    """Numbered records of a tab-separated file with a header row and no quoting."""
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        return
    header = first[1].split("\t")
    _check_header(path, header, required)
    for number, line in lines:
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            yield (
                number,
                BadRow(f"expected {len(header)} tab-separated fields, found {len(fields)}"),
            )
        else:
            yield number, dict(zip(header, fields, strict=True))


def csv_records(path: Path, required: Sequence[str] = ()) -> Iterator[tuple[int, Record]]:
    """Numbered records of a UTF-8 CSV file with a header row (standard quoting).

    A record's number is the line it starts on, so quoted fields spanning lines keep the
    numbers a text editor shows.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                return
            _check_header(path, header, required)
            start = reader.line_num + 1
            for fields in reader:
                number, start = start, reader.line_num + 1
                if not fields:
                    continue
                if len(fields) != len(header):
                    yield number, BadRow(f"expected {len(header)} fields, found {len(fields)}")
                else:
                    yield number, dict(zip(header, fields, strict=True))
        except csv.Error as exc:
            yield reader.line_num, BadRow(f"not valid CSV: {exc}")
        except UnicodeDecodeError as exc:
            raise UnknownFormatError(f"{path.name}: not UTF-8 text ({exc.reason})") from None


_LABEL = TypeAdapter(Label)


def check_label(text: str) -> str | None:
    """Why ``text`` is not a valid category or tag (the API's rule), or None if it is."""
    try:
        _LABEL.validate_python(text)
    except ValidationError as exc:
        return exc.errors(include_url=False)[0]["msg"]
    return None


class TagCollector:
    """Free-text tags per item: distinct (case-insensitive, first spelling kept), the most
    used first, at most ``LIST_MAX`` per item (the API's limit)."""

    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {}
        self._spelling: dict[str, dict[str, str]] = {}

    def add(self, item_id: str, tag: str) -> None:
        key = tag.casefold()
        self._spelling.setdefault(item_id, {}).setdefault(key, tag)
        self._counts.setdefault(item_id, Counter())[key] += 1

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._counts

    def items(self) -> list[str]:
        return list(self._counts)

    def tags(self, item_id: str) -> list[str]:
        counts = self._counts.get(item_id)
        if not counts:
            return []
        spelling = self._spelling[item_id]
        return [spelling[k] for k, _ in counts.most_common(LIST_MAX)]
