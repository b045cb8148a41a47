"""Every imported row goes through the API's own schema models, so both refuse the same rows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from recserve.config import FeedbackType
from recserve.importers.parts import BadRow, Kind, Part
from recserve.schemas import FeedbackCreate, ItemCreate, RelationCreate, UserCreate

MODELS: dict[Kind, type[BaseModel]] = {
    "items": ItemCreate,
    "users": UserCreate,
    "events": FeedbackCreate,
    "relations": RelationCreate,
}


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(row)"


class RowValidator:
    """Validates the rows of parts and collects located problems (all counted, some kept)."""

    def __init__(self, feedback_types: Mapping[str, FeedbackType], keep: int):
        self.feedback_types = feedback_types
        self.known_types = ", ".join(sorted(feedback_types))
        self.keep = keep
        self.problems: list[str] = []
        self.total = 0

    def _problem(self, text: str) -> None:
        self.total += 1
        if len(self.problems) < self.keep:
            self.problems.append(text)

    def check(self, part: Part, number: int, raw: dict[str, Any] | BadRow) -> dict[str, Any] | None:
        """The validated row as a plain dict, or None after recording its problems."""
        where = part.where(number)
        if isinstance(raw, BadRow):
            self._problem(f"{where}: {raw.message}")
            return None
        try:
            row = MODELS[part.kind].model_validate(raw).model_dump()
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                self._problem(f"{where}: {_location(err['loc'])}: {err['msg']}")
            return None
        if part.kind == "events" and row["type"] not in self.feedback_types:
            self._problem(
                f"{where}: type: unknown feedback type {row['type']!r} "
                f"(configured: {self.known_types})"
            )
            return None
        return row

    def rows(self, part: Part) -> Iterator[dict[str, Any] | None]:
        """One pass over ``part``: each row validated, None for a bad one."""
        for number, raw in part.read():
            yield self.check(part, number, raw)
