"""Periodic retraining: a daemon thread that submits a training job every ``interval``
seconds, skipping a tick while another job (from any replica) is still queued or running."""

from __future__ import annotations

import logging
import threading

from recserve.training.jobs import JobAlreadyRunning, JobRunner
from recserve.training.request import TrainingRequest

log = logging.getLogger(__name__)


class TrainingSchedule:
    def __init__(self, runner: JobRunner, interval: float, request: TrainingRequest | None = None):
        if interval <= 0:
            raise ValueError(f"the training interval must be positive, got {interval}")
        self.runner = runner
        self.interval = interval
        self.request = request or TrainingRequest(promote="if_better")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="recserve-train-schedule", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def tick(self) -> str | None:
        """Submit one job unless one is active; returns its id (None when skipped)."""
        try:
            return str(self.runner.submit(self.request, trigger="schedule")["job_id"])
        except JobAlreadyRunning as exc:
            log.info("scheduled training skipped: job %s is still running", exc.job_id)
            return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # keep the schedule alive; the next tick tries again
                log.exception("starting a scheduled training job failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
