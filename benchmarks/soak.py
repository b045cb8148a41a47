"""Soak run: the real server under mixed traffic for minutes, watching errors and memory.

A temporary data folder gets the demo data set, trained with ``recserve demo --no-serve``;
then ``recserve serve`` starts in a subprocess and ``--threads`` client threads drive it
for ``--minutes`` with a mix of

  * recommendations for a random user (60%), similar items (15%), popular (10%),
  * feedback batches of 1-20 events with fresh event ids (15%),
  * and, every ``--train-every`` seconds, a training job (``POST /v1/models/train``;
    a 409 ``job_already_running`` is expected while the last one runs, not an error).

Every ~10 s it prints the requests served, errors, p50/p99 latency of that interval and
the server's RSS; at the end a summary: total requests, errors (any 5xx, connection error
or unexpected status), and memory growth from the first sample after warm-up to the last.
Not a test: run it by hand and quote its output (docs/reliability.md).

    .venv/bin/python benchmarks/soak.py [--minutes 3] [--threads 4] [--train-every 60]
        [--users 1000] [--items 2000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from processes import free_port, rss_mb  # a sibling module

RECSERVE = [sys.executable, "-m", "recserve.cli"]
INTERVAL = 10.0


@contextlib.contextmanager
def server(data_dir: Path, port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``recserve serve`` on ``port``, yielded once /ready answers 200."""
    log = data_dir / "soak-server.log"
    with log.open("wb") as out:
        args = [*RECSERVE, "--data-dir", str(data_dir), "serve", "--port", str(port)]
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 300
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=30).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not ready:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Tally:
    """What the client threads saw; swapped out for a fresh one at each report."""

    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    errors: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    jobs_started: int = 0


class Traffic:
    def __init__(self, base: str, users: list[str], items: list[str], train_every: float):
        self.base = base
        self.users, self.items = users, items
        self.train_every = train_every
        self.lock = threading.Lock()
        self.tally = Tally()
        self.stop = threading.Event()
        self._event_seq = 0
        self._next_train = time.monotonic() + train_every

    def take(self) -> Tally:
        with self.lock:
            tally, self.tally = self.tally, Tally()
        return tally

    def _record(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.tally.by_kind[kind] = self.tally.by_kind.get(kind, 0) + 1
            if error is None:
                self.tally.latencies.append(seconds)
            else:
                self.tally.errors.append(f"{kind}: {error}")

    def _events(self, rng: random.Random) -> list[dict[str, object]]:
        with self.lock:
            start = self._event_seq
            count = rng.randint(1, 20)
            self._event_seq += count
        kinds = ("view", "click", "like", "purchase")
        return [
            {
                "event_id": f"soak-{start + k}",
                "user_id": rng.choice(self.users),
                "item_id": rng.choice(self.items),
                "type": rng.choice(kinds),
            }
            for k in range(count)
        ]

    def _training_due(self) -> bool:
        with self.lock:
            if time.monotonic() < self._next_train:
                return False
            self._next_train = time.monotonic() + self.train_every
            return True

    def _one(self, client: httpx.Client, rng: random.Random) -> None:
        if self._training_due():
            kind, method, path, body = "train", "POST", "/v1/models/train", {}
            ok: tuple[int, ...] = (202, 409)
        else:
            draw = rng.random()
            body = None
            method, ok = "GET", (200,)
            if draw < 0.60:
                kind, path = "recommend", f"/v1/users/{rng.choice(self.users)}/recommendations"
            elif draw < 0.75:
                kind, path = "similar", f"/v1/items/{rng.choice(self.items)}/similar"
            elif draw < 0.85:
                kind, path = "popular", "/v1/popular"
            else:
                kind, method, path = "feedback", "POST", "/v1/feedback"
                body = self._events(rng)  # type: ignore[assignment]
        t0 = time.perf_counter()
        try:
            response = client.request(method, path, json=body, params={"n": 10})
        except httpx.HTTPError as exc:
            self._record(kind, 0.0, repr(exc))
            return
        seconds = time.perf_counter() - t0
        if response.status_code not in ok:
            self._record(kind, seconds, f"{response.status_code} {response.text[:200]}")
            return
        if kind == "train" and response.status_code == 202:
            with self.lock:
                self.tally.jobs_started += 1
        self._record(kind, seconds, None)

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.base, timeout=60) as client:
            while not self.stop.is_set():
                self._one(client, rng)


def ids(base: str, resource: str, limit: int = 1000) -> list[str]:
    response = httpx.get(f"{base}/v1/{resource}", params={"limit": limit}, timeout=60)
    response.raise_for_status()
    key = "user_id" if resource == "users" else "item_id"
    return [row[key] for row in response.json()["data"]]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def soak(args: argparse.Namespace, data_dir: Path) -> bool:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENBLAS_NUM_THREADS": "1"}
    print(f"preparing the demo data in {data_dir} ...", flush=True)
    t0 = time.perf_counter()
    demo_size = ["--users", str(args.users), "--items", str(args.items)]
    subprocess.run(
        [*RECSERVE, "--data-dir", str(data_dir), "demo", "--no-serve", *demo_size],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    print(f"  demo data imported and trained in {time.perf_counter() - t0:.0f} s", flush=True)
    port = free_port()
    with server(data_dir, port, env) as proc:
        base = f"http://127.0.0.1:{port}"
        traffic = Traffic(base, ids(base, "users"), ids(base, "items"), args.train_every)
        idle_rss = rss_mb(proc.pid)
        print(f"server pid {proc.pid}, RSS {idle_rss:.0f} MB before traffic", flush=True)
        threads = [
            threading.Thread(target=traffic.run, args=(seed,), daemon=True)
            for seed in range(args.threads)
        ]
        for thread in threads:
            thread.start()
        header = (
            f"{'t (s)':>6} {'requests':>9} {'req/s':>7} {'errors':>6} "
            f"{'p50 ms':>7} {'p99 ms':>7} {'RSS MB':>7}  mix"
        )
        print(header, flush=True)
        start = time.monotonic()
        end = start + args.minutes * 60
        totals: dict[str, int] = {}
        all_latencies: list[float] = []
        errors: list[str] = []
        rss: list[float] = []
        jobs = 0
        while time.monotonic() < end and proc.poll() is None:
            time.sleep(min(INTERVAL, max(0.0, end - time.monotonic())))
            tally = traffic.take()
            served = sum(tally.by_kind.values())
            for kind, count in tally.by_kind.items():
                totals[kind] = totals.get(kind, 0) + count
            all_latencies += tally.latencies
            errors += tally.errors
            jobs += tally.jobs_started
            rss.append(rss_mb(proc.pid))
            mix = " ".join(f"{k}={v}" for k, v in sorted(tally.by_kind.items()))
            print(
                f"{time.monotonic() - start:6.0f} {served:9d} {served / INTERVAL:7.0f} "
                f"{len(tally.errors):6d} {percentile(tally.latencies, 50):7.1f} "
                f"{percentile(tally.latencies, 99):7.1f} {rss[-1]:7.0f}  {mix}",
                flush=True,
            )
        traffic.stop.set()
        for thread in threads:
            thread.join(timeout=90)
        alive = proc.poll() is None
    total = sum(totals.values())
    # growth after warm-up: the first interval loads catalogues and caches
    first = rss[1] if len(rss) > 2 else (rss[0] if rss else float("nan"))
    growth = (rss[-1] - first) if rss else float("nan")
    print()
    print(f"summary over {args.minutes:g} min, {args.threads} client threads:")
    print(
        f"  requests served : {total} ({', '.join(f'{k} {v}' for k, v in sorted(totals.items()))})"
    )
    print(f"  training jobs   : {jobs} started")
    print(f"  errors          : {len(errors)}")
    for error in errors[:10]:
        print(f"    {error}")
    print(
        f"  latency         : p50 {percentile(all_latencies, 50):.1f} ms, "
        f"p99 {percentile(all_latencies, 99):.1f} ms"
    )
    print(
        f"  server RSS      : idle {idle_rss:.0f} MB, after warm-up {first:.0f} MB, "
        f"peak {max(rss, default=float('nan')):.0f} MB, end {rss[-1] if rss else float('nan'):.0f} MB "
        f"(growth after warm-up {growth:+.0f} MB)"
    )
    print(f"  server alive    : {alive}")
    flat = bool(rss) and growth <= max(20.0, 0.1 * first)
    ok = alive and not errors and flat
    print(f"  verdict         : {'zero errors, flat memory' if ok else 'NOT CLEAN'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--train-every", type=float, default=60.0, help="seconds between jobs")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--data-dir", type=Path, help="keep the data here (default: a temp dir)")
    args = parser.parse_args()
    if args.data_dir is not None:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        ok = soak(args, args.data_dir)
    else:
        folder = Path(tempfile.mkdtemp(prefix="recserve-soak-"))
        try:
            ok = soak(args, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
