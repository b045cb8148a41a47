"""Ingestion benchmark: events/s in batches and single-event latency, SQLite and PostgreSQL.

Two layers are measured on the same synthetic events:
  * store: ``Store.feedback.add`` in batches (the database path alone), then single events
    one at a time;
  * http: ``POST /v1/feedback`` against the real server (uvicorn in a subprocess), batches
    of ``--batch`` events from one client (JSON encoded before timing), then single events
    one at a time for latency.

Every acknowledged event is committed durably (SQLite WAL with synchronous=FULL, PostgreSQL
synchronous_commit), so a single event costs at least one fsync: the header prints what an
fsync costs on the benchmark's disk, the floor of single-event latency, and the load average,
since figures taken on a busy machine are pessimistic. ``cpu us/event`` (CPU time of the
recserve process per event in batches) depends much less on the machine's load than events/s.

Targets (DESIGN.md section 10): >= 20,000 events/s in batches; single event p99 < 10 ms.

    .venv/bin/python benchmarks/ingest.py [--events 200000] [--batch 5000] [--singles 500]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

from processes import cpu_seconds, free_port  # a sibling module
from recserve.store import Store

JSON_HEADERS = {"content-type": "application/json"}
POSTGRES_URL = os.environ.get(
    "RECSERVE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def make_events(n: int, seed: int = 0, prefix: str = "") -> list[dict]:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, max(n // 50, 10), n)
    items = np.minimum(rng.zipf(1.3, n), 50_000)
    types = rng.choice(
        ["view", "click", "like", "purchase", "rating"], n, p=[0.5, 0.2, 0.15, 0.05, 0.1]
    )
    t0 = 1_700_000_000.0
    return [
        {
            "event_id": f"{prefix}{k}",
            "user_id": f"user-{users[k]}",
            "item_id": f"item-{items[k]}",
            "type": str(types[k]),
            "value": 4.0 if types[k] == "rating" else None,
            "timestamp": t0 + k,
        }
        for k in range(n)
    ]


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bench_store(
    url: str, events: list[dict], batch: int, singles: int
) -> tuple[float, float, list[float]]:
    store = Store.open(url)
    start, cpu = time.perf_counter(), time.process_time()
    for k in range(0, len(events), batch):
        store.feedback.add(events[k : k + batch])
    elapsed = time.perf_counter() - start
    cpu_us = (time.process_time() - cpu) / len(events) * 1e6
    assert store.feedback.count() == len(events)
    latencies = []
    for event in make_events(singles, seed=1, prefix="single-"):
        t = time.perf_counter()
        store.feedback.add([event])
        latencies.append((time.perf_counter() - t) * 1000)
    store.close()
    return len(events) / elapsed, cpu_us, latencies


def fsync_ms(folder: str, n: int = 200) -> list[float]:
    """Milliseconds per fsync of a small append in ``folder``: a durable commit's floor."""
    latencies = []
    with tempfile.NamedTemporaryFile(dir=folder) as f:
        for _ in range(n):
            f.write(b"x" * 100)
            f.flush()
            t = time.perf_counter()
            os.fsync(f.fileno())
            latencies.append((time.perf_counter() - t) * 1000)
    return latencies


@contextlib.contextmanager
def server(url: str, data_dir: Path) -> Iterator[tuple[str, int]]:
    """The service in a subprocess: its base URL and process id."""
    port = free_port()
    env = {**os.environ, "RECSERVE_DATABASE_URL": url, "RECSERVE_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "recserve.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("server did not start")
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_http(
    url: str, events: list[dict], batch: int, singles: int
) -> tuple[float, float, list[float]]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        server(url, Path(tmp)) as (base, pid),
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        # Encoded before the clock starts: the client shares the server's CPUs, and what is
        # measured is what the server ingests.
        bodies = [json.dumps(events[k : k + batch]).encode() for k in range(0, len(events), batch)]
        start, cpu = time.perf_counter(), cpu_seconds(pid)
        for body in bodies:
            response = client.post("/v1/feedback", content=body, headers=JSON_HEADERS)
            response.raise_for_status()
        rate = len(events) / (time.perf_counter() - start)
        cpu_us = (cpu_seconds(pid) - cpu) / len(events) * 1e6
        latencies = []
        for event in make_events(singles, seed=1, prefix="single-"):
            t = time.perf_counter()
            client.post("/v1/feedback", json=[event]).raise_for_status()
            latencies.append((time.perf_counter() - t) * 1000)
    return rate, cpu_us, latencies


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def row(kind: str, layer: str, rate: float | None, cpu_us: float | None, lat: list[float]) -> str:
    rate_text = f"{rate:>10,.0f}" if rate is not None else f"{'':>10}"
    cpu_text = f"{cpu_us:>12.1f}" if cpu_us is not None else f"{'':>12}"
    return (
        f"{kind:<11} {layer:<6} {rate_text} {cpu_text} "
        f"{statistics.median(lat):>14.2f} {pct(lat, 99):>14.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events sent in batches")
    parser.add_argument("--batch", type=int, default=5_000, help="events per batch")
    parser.add_argument("--singles", type=int, default=500, help="single events timed one by one")
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    args = parser.parse_args()
    events = make_events(args.events)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"ingest benchmark: {args.events} events, batches of {args.batch}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    print(
        f"{'database':<11} {'layer':<6} {'events/s':>10} {'cpu us/event':>12} "
        f"{'single p50 ms':>14} {'single p99 ms':>14}"
    )
    print(row("(disk)", "fsync", None, None, fsync_ms(tempfile.gettempdir())))
    for kind in args.databases.split(","):
        with database(kind) as url:
            print(row(kind, "store", *bench_store(url, events, args.batch, args.singles)))
        with database(kind) as url:
            print(row(kind, "http", *bench_http(url, events, args.batch, args.singles)))
    print("targets: >= 20,000 events/s in batches; single event p99 < 10 ms")
    print(
        "cpu us/event: CPU time of the recserve process (benchmark for store, server for http)"
        " per event in batches, PostgreSQL's own processes not included"
    )


if __name__ == "__main__":
    main()
