"""The served-list writer: rows reach the database in batches from a background thread,
flush() and close() write what is queued, a failed write is retried, a full queue drops."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from recserve.experiments.impressions import ListLogWriter
from recserve.store import Store


def _row(i: int) -> dict:
    return {
        "recommendation_id": f"r{i}",
        "experiment_id": "e",
        "variant": "A",
        "user_id": f"u{i}",
        "model": "m/v0001",
        "items": ["a", "b"],
        "served_at": float(i),
    }


def test_rows_are_written_in_batches_by_the_thread(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'log.sqlite'}")
    batches: list[int] = []

    def write(rows: list[dict]) -> None:
        batches.append(len(rows))
        store.experiments.log_lists(rows)

    writer = ListLogWriter(write, interval=0.05)
    for i in range(1000):
        assert writer.put(_row(i))  # queued: the thread does the writing
    deadline = time.monotonic() + 5
    while store.experiments.lists_of("e") < 1000 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.experiments.lists_of("e") == 1000
    assert len(batches) < 100 and sum(batches) == 1000  # batched, not one insert per row
    writer.put(_row(1000))
    writer.close()  # shutdown: the last row is written without waiting for the interval
    assert store.experiments.lists_of("e") == 1001
    store.close()


def test_failed_writes_are_retried_and_a_full_queue_drops() -> None:
    written: list[dict] = []
    fail = threading.Event()
    fail.set()

    def write(rows: list[dict]) -> None:
        if fail.is_set():
            raise RuntimeError("database down")
        written.extend(rows)

    writer = ListLogWriter(write, interval=3600, capacity=3)
    for i in range(5):
        writer.put(_row(i))
    assert writer.dropped == 2 and writer.pending() == 3
    assert writer.flush() == 0 and writer.pending() == 3  # kept for the next try
    fail.clear()
    assert writer.flush() == 3
    assert [r["recommendation_id"] for r in written] == ["r0", "r1", "r2"]
    writer.close()


def test_a_row_the_database_refuses_is_dropped_alone() -> None:
    """A non-retriable error (a value the database refuses) must not block the queue."""
    written: list[str] = []

    def write(rows: list[dict]) -> None:
        if any(r["user_id"] == "bad" for r in rows):
            raise ValueError("refused")
        written.extend(r["recommendation_id"] for r in rows)

    writer = ListLogWriter(write, interval=3600, retriable=lambda exc: False)
    for i in range(3):
        writer.put({**_row(i), "user_id": "bad" if i == 1 else "ok"})
    assert writer.flush() == 2 and written == ["r0", "r2"]
    assert writer.dropped == 1 and writer.pending() == 0
    writer.close()


def test_a_logged_recommendation_id_is_not_logged_twice(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'twice.sqlite'}")
    store.experiments.log_lists([_row(1), _row(2)])
    store.experiments.log_lists([_row(2), _row(3)])
    assert store.experiments.lists_of("e") == 3
    store.close()
