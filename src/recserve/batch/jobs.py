"""Batch recommendation jobs of the API: ``POST /v1/recommendations/batch`` records a job
(``store.batch_jobs``, so any replica reports it) and a thread of the API process runs the
export through the process's own serving engine, so the lists are the ones its per-user
endpoint answers. The JSONL result lies in ``<data_dir>/batch/<job_id>.jsonl``.

One job at a time per store: a second is refused while one is queued or running. A job
updates its progress (its heartbeat) after each chunk of users; one whose process died is
failed by the store's stale-heartbeat rule.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from recserve.batch.export import export_recommendations
from recserve.serving import ModelNotReady, ServingEngine
from recserve.store import Store

log = logging.getLogger(__name__)


class BatchJobRunning(RuntimeError):
    def __init__(self, job_id: str):
        super().__init__(f"batch job {job_id} is still running")
        self.job_id = job_id


class Cancelled(Exception):
    """The API process is shutting down: the job stops after its current chunk."""


class BatchRunner:
    def __init__(self, store: Store, engine: ServingEngine, results_dir: Path):
        self.store = store
        self.engine = engine
        self.results_dir = Path(results_dir)
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._stop = threading.Event()

    def result_path(self, job_id: str) -> Path:
        return self.results_dir / f"{job_id}.jsonl"

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        """Record a queued job and start it; ``BatchJobRunning`` if one is active."""
        with self._lock:
            active = self.store.batch_jobs.active()
            if active:
                raise BatchJobRunning(active[0]["job_id"])
            job = self.store.batch_jobs.create(request, trigger="api")
            thread = threading.Thread(
                target=self._run, args=(job["job_id"], request), name="recserve-batch", daemon=True
            )
            self._threads[job["job_id"]] = thread
            thread.start()
            return job

    def _run(self, job_id: str, request: dict[str, Any]) -> None:
        jobs = self.store.batch_jobs
        try:
            jobs.start(job_id, os.getpid())

            def progress(done: int, total: int) -> None:
                if self._stop.is_set():
                    raise Cancelled
                jobs.update(job_id, progress=round(done / max(total, 1), 4), step="scoring")

            report = export_recommendations(
                self.engine,
                self.result_path(job_id),
                n=request["n"],
                scenario=request["scenario"],
                users=request.get("users"),
                progress=progress,
            )
            results = {
                **report.as_dict(),
                "result_url": f"/v1/recommendations/batch/{job_id}/result",
            }
            jobs.finish(job_id, results)
        except Cancelled:
            jobs.fail(job_id, "cancelled: the API process shut down")
        except (ModelNotReady, ValueError) as exc:
            jobs.fail(job_id, str(exc))
        except Exception as exc:
            log.exception("batch job %s failed", job_id)
            jobs.fail(job_id, f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._threads.pop(job_id, None)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the jobs started here (tests, shutdown)."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the running job after its current chunk (the API process is shutting down)."""
        self._stop.set()
        self.wait(timeout)
