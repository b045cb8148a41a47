"""What an import tells its caller: counts and time on success, located problems on failure."""

from __future__ import annotations

from dataclasses import dataclass

MAX_PROBLEMS = 20  # problems listed in an ImportValidationError


@dataclass
class ImportReport:
    """Rows written by one import.

    ``items`` and ``users`` count rows upserted from catalogue and user files (not the bare
    rows the store creates for ids first seen in an event); ``events`` counts newly stored
    events, ``duplicates`` the events skipped because their ``event_id`` was already stored;
    ``relations`` counts new relations.
    """

    items: int = 0
    users: int = 0
    events: int = 0
    relations: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    format: str = ""

    def __str__(self) -> str:
        return (
            f"{self.items:,} items, {self.users:,} users, {self.events:,} events "
            f"({self.duplicates:,} duplicates skipped), {self.relations:,} relations "
            f"in {self.seconds:.1f} s"
        )


class ImportFailed(ValueError):
    """Nothing was imported; the message says why."""


class UnknownFormatError(ImportFailed):
    """The source's format or kind could not be told, or is not supported."""


class ImportValidationError(ImportFailed):
    """Some rows are invalid, so no row of the source was written.

    ``problems`` holds the first ``MAX_PROBLEMS`` problems, each located as
    ``"<file> line <n>: <field>: <message>"``; ``total`` counts all of them.
    """

    def __init__(self, source: str, problems: list[str], total: int):
        self.source = source
        self.problems = problems
        self.total = total
        shown = "\n".join(f"  {p}" for p in problems)
        more = f"\n  ... and {total - len(problems):,} more" if total > len(problems) else ""
        super().__init__(
            f"{source}: {total:,} problem{'s' if total != 1 else ''} found, nothing imported:\n"
            f"{shown}{more}"
        )
