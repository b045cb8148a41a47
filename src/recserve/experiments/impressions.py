"""The served-list log's writer: requests append to a bounded in-memory queue (about a
microsecond) and a background thread inserts what is queued every ``interval`` seconds in
one statement, so logging never puts a database write on the request path.

``flush()`` writes what is queued now (metrics read after it see every list this process
served); ``close()`` stops the thread and flushes, on shutdown. A batch that fails with a
``retriable`` error (the database is unreachable) goes back to the queue; one that fails
otherwise is written row by row, and the rows still refused are dropped. When the queue is
full (the database is down for long), new rows are dropped. Both count in ``dropped``.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Row = dict[str, Any]


class ListLogWriter:
    def __init__(
        self,
        write: Callable[[list[Row]], None],
        interval: float = 0.5,
        capacity: int = 200_000,
        retriable: Callable[[Exception], bool] = lambda exc: True,
    ):
        self._write = write
        self._retriable = retriable
        self.interval = interval
        self.capacity = capacity
        self.dropped = 0
        self._queue: deque[Row] = deque()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()  # one batch at a time: flush() and the thread
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def put(self, row: Row) -> bool:
        """Queue one served list; False when the queue is full (the row is dropped)."""
        if len(self._queue) >= self.capacity:
            self.dropped += 1
            return False
        self._queue.append(row)
        if self._thread is None:
            self._start()
        return True

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="recserve-list-log", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> int:
        """Write every queued row now; returns how many were written. On a database error
        the batch goes back to the queue (within capacity) for the next try."""
        with self._write_lock:
            batch: list[Row] = []
            queue = self._queue
            while queue:
                try:
                    batch.append(queue.popleft())
                except IndexError:
                    break
            if not batch:
                return 0
            try:
                self._write(batch)
            except Exception as exc:
                if not self._retriable(exc):
                    return self._one_by_one(batch)
                room = max(0, self.capacity - len(queue))
                kept = batch[:room]
                self.dropped += len(batch) - len(kept)
                queue.extendleft(reversed(kept))
                log.warning("writing %d served lists failed (%s); retrying later", len(batch), exc)
                return 0
            return len(batch)

    def _one_by_one(self, batch: list[Row]) -> int:
        written = 0
        for row in batch:
            try:
                self._write([row])
                written += 1
            except Exception as exc:
                self.dropped += 1
                log.error("dropping served list %s: %s", row.get("recommendation_id"), exc)
        return written

    def close(self) -> None:
        """Stop the thread and write what is left (at shutdown)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        self.flush()
