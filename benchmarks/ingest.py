"""Ingestion benchmark: events/s in batches and single-event latency, SQLite and PostgreSQL.

Two layers are measured on the same synthetic events:
  * store: ``Store.feedback.add`` in batches (the database path alone);
  * http: ``POST /v1/feedback`` against the real server (uvicorn in a subprocess), batches
    of ``--batch`` events from one client, then single events one at a time for latency.

Targets (DESIGN.md section 10): >= 20,000 events/s in batches; single event p99 < 10 ms.

    .venv/bin/python benchmarks/ingest.py [--events 200000] [--batch 5000] [--singles 500]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
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

from recserve.store import Store

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


def bench_store(url: str, events: list[dict], batch: int) -> float:
    store = Store.open(url)
    start = time.perf_counter()
    for k in range(0, len(events), batch):
        store.feedback.add(events[k : k + batch])
    elapsed = time.perf_counter() - start
    assert store.feedback.count() == len(events)
    store.close()
    return len(events) / elapsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(url: str, data_dir: Path) -> Iterator[str]:
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
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_http(url: str, events: list[dict], batch: int, singles: int) -> tuple[float, list[float]]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        server(url, Path(tmp)) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        start = time.perf_counter()
        for k in range(0, len(events), batch):
            response = client.post("/v1/feedback", json=events[k : k + batch])
            response.raise_for_status()
        rate = len(events) / (time.perf_counter() - start)
        latencies = []
        for event in make_events(singles, seed=1, prefix="single-"):
            t = time.perf_counter()
            client.post("/v1/feedback", json=[event]).raise_for_status()
            latencies.append((time.perf_counter() - t) * 1000)
    return rate, latencies


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--singles", type=int, default=500)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    events = make_events(args.events)
    print(f"ingest benchmark: {args.events} events, batches of {args.batch}, {os.cpu_count()} CPUs")
    print(
        f"{'database':<11} {'layer':<6} {'events/s':>10} {'single p50 ms':>14} {'single p99 ms':>14}"
    )
    for kind in args.databases.split(","):
        with database(kind) as url:
            rate = bench_store(url, events, args.batch)
            print(f"{kind:<11} {'store':<6} {rate:>10,.0f} {'':>14} {'':>14}")
        with database(kind) as url:
            rate, lat = bench_http(url, events, args.batch, args.singles)
            print(
                f"{kind:<11} {'http':<6} {rate:>10,.0f} {statistics.median(lat):>14.2f} {pct(lat, 99):>14.2f}"
            )
    print("targets: >= 20,000 events/s in batches; single event p99 < 10 ms")


if __name__ == "__main__":
    main()
