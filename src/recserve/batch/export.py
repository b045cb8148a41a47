"""A batch export: the lists of every user (or a listed subset) through the serving engine,
written chunk by chunk to a JSONL or Parquet file, with progress.

Users are taken in chunks (``serving.batch.chunk_users``), so memory stays at one chunk's
lists and scores whatever the number of users. A listed user the store does not hold is
reported (``ExportReport.unknown``) and gets no line: the per-user endpoint would answer
them with popular items, which an export of known users should not pass off as theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recserve.batch.output import BatchWriter, Record
from recserve.serving import ServingEngine
from recserve.serving.batch import chunk_users, recommend_many
from recserve.serving.served import RecommendationList

Progress = Callable[[int, int], None]  # (users done, users in all)
UNKNOWN_LISTED = 100  # unknown ids kept in the report (the count covers them all)


@dataclass
class ExportReport:
    users: int = 0  # lines written
    unknown_count: int = 0
    unknown: list[str] = field(default_factory=list)  # the first UNKNOWN_LISTED of them
    models: dict[str, int] = field(default_factory=dict)  # model ref -> users it answered

    def as_dict(self) -> dict[str, object]:
        return {
            "users": self.users,
            "unknown_users": self.unknown_count,
            "unknown_user_ids": self.unknown,
            "models": self.models,
        }


def record(user_id: str, result: RecommendationList) -> Record:
    """One output line; the items and scores as the per-user endpoint answers them."""
    return {
        "user_id": user_id,
        "items": [
            {"item_id": i, "score": s} for i, s in zip(result.item_ids, result.scores, strict=True)
        ],
        "model": result.model,
        "experiment": result.experiment,
        "variant": result.variant,
    }


def _chunks(engine: ServingEngine, users: Sequence[str] | None, size: int) -> Iterator[list[str]]:
    if users is None:
        yield from engine.store.users.key_chunks(size)
        return
    unique = list(dict.fromkeys(users))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


def export_recommendations(
    engine: ServingEngine,
    path: Path,
    *,
    n: int = 10,
    scenario: str = "recommended",
    users: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> ExportReport:
    """Write the top ``n`` of ``scenario`` for every user in the store (``users`` None) or
    for the listed ones to ``path``. Raises ``ModelNotReady`` (no champion),
    ``OutputError`` (format) or ``ValueError`` (scenario) before writing anything."""
    size = chunk_users(engine, scenario)
    total = engine.store.users.count() if users is None else len(dict.fromkeys(users))
    recommend_many(engine, scenario, [], n)  # checks the scenario and its champion first
    writer = BatchWriter(path)
    report = ExportReport()
    done = 0
    try:
        for chunk in _chunks(engine, users, size):
            known = chunk
            if users is not None:
                found = engine.store.users.get_many(chunk)
                known = [u for u in chunk if u in found]
                missing = [u for u in chunk if u not in found]
                report.unknown_count += len(missing)
                report.unknown.extend(missing[: UNKNOWN_LISTED - len(report.unknown)])
            results = recommend_many(engine, scenario, known, n) if known else []
            writer.write([record(u, r) for u, r in zip(known, results, strict=True)])
            for result in results:
                report.models[result.model] = report.models.get(result.model, 0) + 1
            done += len(chunk)
            if progress is not None:
                progress(done, max(total, done))
        writer.close()
    except BaseException:
        writer.discard()
        raise
    report.users = writer.count
    return report
