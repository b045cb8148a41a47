"""Experiment definitions and the log of lists served under them, with the SQL aggregates
that attribute later feedback events to each variant (``recserve.experiments``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from recserve.store import schema
from recserve.store.dialect import insert_for

DRAFT, RUNNING, STOPPED = "draft", "running", "stopped"
STATUSES = (DRAFT, RUNNING, STOPPED)


class ExperimentConflict(RuntimeError):
    """The experiment id exists, or another experiment already runs on the scenario."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# Whether the event's item is one of the list's items (``l.items``, a JSON array of ids).
_MEMBER = {
    "sqlite": "e.item_id IN (SELECT value FROM json_each(l.items))",
    "postgresql": "e.item_id IN (SELECT json_array_elements_text(l.items))",
}

_LISTS_SQL = """
SELECT l.variant AS variant,
       COUNT(*) AS lists,
       SUM(CASE WHEN EXISTS (
           SELECT 1 FROM events e
           WHERE e.recommendation_id = l.recommendation_id AND e.type IN :clicks AND {member}
       ) THEN 1 ELSE 0 END) AS clicked_lists,
       SUM(CASE WHEN EXISTS (
           SELECT 1 FROM events e
           WHERE e.recommendation_id = l.recommendation_id AND e.type IN :conversions
             AND {member}
       ) THEN 1 ELSE 0 END) AS converted_lists
FROM recommendation_log l
WHERE l.experiment_id = :experiment
GROUP BY l.variant
"""

_EVENTS_SQL = """
SELECT l.variant AS variant,
       SUM(CASE WHEN e.type IN :clicks THEN 1 ELSE 0 END) AS clicks,
       SUM(CASE WHEN e.type IN :conversions THEN 1 ELSE 0 END) AS conversions
FROM recommendation_log l
JOIN events e ON e.recommendation_id = l.recommendation_id
WHERE l.experiment_id = :experiment AND {member}
GROUP BY l.variant
"""


def _query(template: str, dialect: str) -> sa.TextClause:
    member = _MEMBER.get(dialect, _MEMBER["postgresql"])
    return sa.text(template.format(member=member)).bindparams(
        sa.bindparam("clicks", expanding=True), sa.bindparam("conversions", expanding=True)
    )


class ExperimentRepository:
    """The ``experiments`` and ``recommendation_log`` tables."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.table = schema.experiments
        self.log = schema.recommendation_log

    # definitions ------------------------------------------------------------------------

    def create(self, row: dict[str, Any]) -> dict[str, Any]:
        """Store a new experiment (``status`` draft or running); raises ExperimentConflict
        when the id exists or another experiment runs on the same scenario."""
        now = time.time()
        row = {"created_at": now, "started_at": None, "stopped_at": None, **row}
        if row["status"] == RUNNING:
            row["started_at"] = now
        t = self.table
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(t.c.experiment_id).where(t.c.experiment_id == row["experiment_id"])
            ).first()
            if exists is not None:
                raise ExperimentConflict(
                    "experiment_exists", f"experiment {row['experiment_id']!r} already exists"
                )
            if row["status"] == RUNNING:
                self._check_free(conn, row["scenario"])
            conn.execute(sa.insert(t), [row])
        return row

    def _check_free(self, conn: sa.Connection, scenario: str) -> None:
        t = self.table
        other = conn.execute(
            sa.select(t.c.experiment_id).where(t.c.scenario == scenario, t.c.status == RUNNING)
        ).scalar()
        if other is not None:
            raise ExperimentConflict(
                "scenario_busy",
                f"experiment {other!r} already runs on {scenario!r}; stop it first",
            )

    def get(self, experiment_id: str) -> dict[str, Any] | None:
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.experiment_id == experiment_id)).first()
        return dict(row._mapping) if row is not None else None

    def recent(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Experiments, newest first."""
        t = self.table
        query = sa.select(t).order_by(t.c.created_at.desc(), t.c.experiment_id).limit(limit)
        if status is not None:
            query = query.where(t.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def running(self) -> list[dict[str, Any]]:
        return self.recent(RUNNING, limit=1000)

    def start(self, experiment_id: str) -> dict[str, Any] | None:
        """A draft starts running (ExperimentConflict when the scenario is taken or the
        experiment is stopped); a running one is left as it is. None: no such experiment."""
        t = self.table
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.experiment_id == experiment_id)).first()
            if row is None:
                return None
            if row.status == STOPPED:
                raise ExperimentConflict(
                    "experiment_stopped", f"experiment {experiment_id!r} is stopped for good"
                )
            if row.status == DRAFT:
                self._check_free(conn, row.scenario)
                conn.execute(
                    sa.update(t)
                    .where(t.c.experiment_id == experiment_id)
                    .values(status=RUNNING, started_at=time.time())
                )
        return self.get(experiment_id)

    def stop(self, experiment_id: str) -> dict[str, Any] | None:
        """Stop an experiment (idempotent); None when there is no such experiment."""
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(t)
                .where(t.c.experiment_id == experiment_id, t.c.status != STOPPED)
                .values(status=STOPPED, stopped_at=time.time())
            )
        return self.get(experiment_id)

    # the served lists -------------------------------------------------------------------

    def log_lists(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert served lists (recommendation_id, experiment_id, variant, user_id, model,
        items, served_at) in one statement; a recommendation_id already logged is skipped."""
        if rows:
            stmt = insert_for(self.engine, self.log).on_conflict_do_nothing(
                index_elements=["recommendation_id"]
            )
            with self.engine.begin() as conn:
                conn.execute(stmt, list(rows))

    def lists_of(self, experiment_id: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(self.log)
                    .where(self.log.c.experiment_id == experiment_id)
                ).scalar_one()
            )

    def delete_user(self, conn: sa.Connection, user_id: str) -> None:
        """A privacy delete: the user's served lists go with their events."""
        conn.execute(sa.delete(self.log).where(self.log.c.user_id == user_id))

    def user_lists(self, user_id: str) -> list[dict[str, Any]]:
        """The lists served to a user under experiments (for a privacy export)."""
        query = sa.select(self.log).where(self.log.c.user_id == user_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(self.log.c.served_at))]

    # online metrics ---------------------------------------------------------------------

    def variant_counts(
        self, experiment_id: str, click_types: Sequence[str], conversion_types: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        """Per variant: ``lists`` served, ``clicked_lists`` (>= 1 click-type event on an item
        of the list carrying its recommendation_id), ``converted_lists`` (the same for
        conversion types), and the attributed ``clicks`` and ``conversions`` events."""
        params = {
            "experiment": experiment_id,
            "clicks": list(click_types),
            "conversions": list(conversion_types),
        }
        dialect = self.engine.dialect.name
        counts: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(_query(_LISTS_SQL, dialect), params):
                counts[row.variant] = {
                    "lists": int(row.lists),
                    "clicked_lists": int(row.clicked_lists or 0),
                    "converted_lists": int(row.converted_lists or 0),
                    "clicks": 0,
                    "conversions": 0,
                }
            for row in conn.execute(_query(_EVENTS_SQL, dialect), params):
                if row.variant in counts:
                    counts[row.variant]["clicks"] = int(row.clicks or 0)
                    counts[row.variant]["conversions"] = int(row.conversions or 0)
        return counts
