"""A source broken into parts: one file (or list) of one kind of row, readable more than once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["items", "users", "events", "relations"]
KINDS: tuple[Kind, ...] = ("items", "users", "events", "relations")  # also the write order


@dataclass(frozen=True)
class BadRow:
    """A row that could not even be parsed into fields (bad JSON, wrong field count ...)."""

    message: str


Raw = dict[str, Any] | BadRow
# (where, raw fields): ``where`` is a line number in the part's file, or a full location
# ("tags.csv line 7") for a row built from another file. Raw fields go to the schema models.
Rows = Iterator[tuple[int | str, Raw]]


@dataclass(frozen=True)
class Part:
    """One kind of row from one place. ``read`` starts a fresh pass over the rows each call."""

    kind: Kind
    name: str  # for messages: a file name, or "demo items"
    read: Callable[[], Rows]
    unit: str = "line"  # "line" for files, "row" for in-memory lists

    def where(self, position: int | str) -> str:
        return position if isinstance(position, str) else f"{self.name} {self.unit} {position}"


def rows_part(kind: Kind, name: str, rows: Iterable[Mapping[str, Any]]) -> Part:
    """A part over in-memory rows, numbered from 1."""
    kept = list(rows)

    def read() -> Rows:
        for number, row in enumerate(kept, start=1):
            yield number, dict(row)

    return Part(kind, name, read, unit="row")
