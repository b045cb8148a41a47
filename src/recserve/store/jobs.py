"""Job records: the worker writes status and progress, any API replica reads them. A job
whose worker stops sending heartbeats is reported as failed. Training jobs live in
``training_jobs``; batch recommendation jobs (recserve.batch.jobs) in ``batch_jobs``, a
table of the same shape."""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from recserve.store import schema

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
ACTIVE = (QUEUED, RUNNING)
# A running job's worker beats every few seconds; this much silence means it died.
STALE_SECONDS = 120.0


class JobRepository:
    def __init__(
        self,
        engine: sa.Engine,
        stale_seconds: float = STALE_SECONDS,
        table: sa.Table = schema.training_jobs,
        worker: str = "the training worker",
    ):
        self.engine = engine
        self.table = table
        self.stale_seconds = stale_seconds
        self.worker = worker  # who runs the jobs, for the error of a job that went silent

    def create(self, request: dict[str, Any], trigger: str = "api") -> dict[str, Any]:
        """A new queued job; returns its row."""
        now = time.time()
        row = {
            "job_id": uuid.uuid4().hex,
            "status": QUEUED,
            "trigger": trigger,
            "request": request,
            "progress": 0.0,
            "step": "queued",
            "results": {},
            "error": None,
            "pid": None,
            "created_at": now,
            "started_at": None,
            "finished_at": None,
            "heartbeat_at": now,
        }
        with self.engine.begin() as conn:
            conn.execute(sa.insert(self.table), [row])
        return row

    def update(self, job_id: str, **fields: Any) -> None:
        """Change a job's fields; every update also counts as a heartbeat."""
        fields.setdefault("heartbeat_at", time.time())
        with self.engine.begin() as conn:
            conn.execute(sa.update(self.table).where(self.table.c.job_id == job_id).values(fields))

    def start(self, job_id: str, pid: int) -> None:
        now = time.time()
        self.update(job_id, status=RUNNING, pid=pid, started_at=now, step="starting")

    def finish(self, job_id: str, results: dict[str, Any]) -> None:
        self.update(
            job_id,
            status=SUCCEEDED,
            progress=1.0,
            step="done",
            results=results,
            finished_at=time.time(),
        )

    def fail(self, job_id: str, error: str, results: dict[str, Any] | None = None) -> None:
        """Mark a job failed unless it already finished (a late monitor must not undo it)."""
        fields: dict[str, Any] = {"status": FAILED, "error": error, "finished_at": time.time()}
        if results is not None:
            fields["results"] = results
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(t)
                .where(t.c.job_id == job_id, t.c.status.in_(ACTIVE))
                .values(heartbeat_at=time.time(), **fields)
            )

    def _reap(self, conn: sa.Connection) -> None:
        """Active jobs without a heartbeat for ``stale_seconds`` are failed: their worker died."""
        t = self.table
        now = time.time()
        conn.execute(
            sa.update(t)
            .where(t.c.status.in_(ACTIVE), t.c.heartbeat_at < now - self.stale_seconds)
            .values(
                status=FAILED,
                error=f"{self.worker} stopped responding (crashed or killed)",
                finished_at=now,
            )
        )

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self.engine.begin() as conn:
            self._reap(conn)
            row = conn.execute(sa.select(self.table).where(self.table.c.job_id == job_id)).first()
        return dict(row._mapping) if row is not None else None

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest jobs, newest first."""
        t = self.table
        with self.engine.begin() as conn:
            self._reap(conn)
            rows = conn.execute(
                sa.select(t).order_by(t.c.created_at.desc(), t.c.job_id).limit(limit)
            )
            return [dict(r) for r in rows.mappings()]

    def active(self) -> list[dict[str, Any]]:
        """Queued or running jobs (after failing the stale ones)."""
        t = self.table
        with self.engine.begin() as conn:
            self._reap(conn)
            rows = conn.execute(sa.select(t).where(t.c.status.in_(ACTIVE)))
            return [dict(r) for r in rows.mappings()]
