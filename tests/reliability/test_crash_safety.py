"""Crash safety: kill -9 the server while batches of events are being posted.

A client thread posts batches with unique event ids to a live server (SQLite in WAL with
synchronous=FULL, or PostgreSQL), recording which were acknowledged with 200. The server
is killed with SIGKILL mid-stream and restarted on the same store: every acknowledged
event is there exactly once, and re-posting every unacknowledged batch completes the
store without duplicates (ingestion is idempotent on ``event_id``).
"""

from __future__ import annotations

import collections
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from recserve.store import Store
from recserve.store.schema import events as events_table
from tests.live import live_server

BATCHES = 400  # more than the client posts before the kill
BATCH_SIZE = 50
ACKED_BEFORE_KILL = 15

pytestmark = pytest.mark.slow  # four server starts (about 4 s each on an idle machine)


def batch(b: int) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"b{b:04d}-{k:03d}",
            "user_id": f"u{(b * BATCH_SIZE + k) % 97}",
            "item_id": f"i{(b * 7 + k) % 113}",
            "type": "click",
        }
        for k in range(BATCH_SIZE)
    ]


class Poster(threading.Thread):
    """Posts batches 0, 1, 2 ... in order until a request fails (the server died)."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base = base
        self.acked: list[int] = []
        self.failed_at: int | None = None

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            for b in range(BATCHES):
                try:
                    response = client.post("/v1/feedback", json=batch(b))
                except httpx.HTTPError:
                    self.failed_at = b
                    return
                if response.status_code != 200:
                    self.failed_at = b
                    return
                self.acked.append(b)


def stored_event_ids(url: str) -> collections.Counter[str]:
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(events_table.c.event_id)).scalars()
            return collections.Counter(rows)
    finally:
        store.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_acknowledged_events_survive_kill_9_exactly_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    data_dir = tmp_path / "data"
    args = ("--database-url", url, "serve")

    with live_server(*args, data_dir=data_dir) as (base, process):
        poster = Poster(base)
        poster.start()
        deadline = time.monotonic() + 60
        while len(poster.acked) < ACKED_BEFORE_KILL and poster.is_alive():
            assert time.monotonic() < deadline, "the server acknowledged too few batches"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        poster.join(timeout=15)
        assert not poster.is_alive()
    assert poster.failed_at is not None, "the kill did not interrupt the stream"
    acked = set(poster.acked)
    assert len(acked) >= ACKED_BEFORE_KILL

    counts = stored_event_ids(url)
    assert max(counts.values()) == 1  # no event stored twice
    for b in acked:
        assert all(counts[e["event_id"]] == 1 for e in batch(b)), f"acknowledged batch {b} lost"
    # the batch in flight at the kill is stored whole or not at all (one transaction)
    in_flight = [counts[e["event_id"]] for e in batch(poster.failed_at)]
    assert sum(in_flight) in (0, BATCH_SIZE)

    with (
        live_server(*args, data_dir=data_dir) as (base, _process),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        replayed = [b for b in range(poster.failed_at + 3) if b not in acked]
        for b in replayed:
            response = client.post("/v1/feedback", json=batch(b))
            assert response.status_code == 200, response.text

    counts = stored_event_ids(url)
    expected = {e["event_id"] for b in range(poster.failed_at + 3) for e in batch(b)}
    assert set(counts) == expected
    assert set(counts.values()) == {1}
