"""Serving benchmark: the real server against a bare FastAPI endpoint, at 100k and 1M items.

For each catalogue size a temporary data folder gets a synthetic catalogue: every item in
the SQLite store, users with a few likes each, an ALS model with clustered random 64-dim
factors (as trained factors are: users and items scattered around shared topics) promoted
as ``recommended`` and ``similar_items`` and a popularity model as ``popular``. Then

  * ``recserve serve`` (uvicorn, one worker) starts in a subprocess; its RSS is read idle,
    before any champion is promoted, then again once it serves the models (loaded, both
    ANN indexes built: recommendations and similar items) and after the load;
  * a bare FastAPI app in another subprocess answers the same path with a JSON list of the
    same size (10 items with scores, a model name and an id), from a sync endpoint like the
    real route (``--bare-async`` for an ``async def`` one);
  * a load generator in a third process drives each in turn with the same closed loop:
    ``--connections`` keep-alive connections, each sending the next request as soon as the
    previous answer is read, random known users, a warm-up then a timed phase;
  * in this process: ANN recall@10 of the served path against exact top-10 (for users with
    their seen items excluded), the index build time, and the in-process cost of one
    ``ServingEngine.recommend`` with ANN and exact (``--profile``: where the time goes); the
    same for ``ServingEngine.similar_items`` (100 random anchor items, cosine).

Targets (DESIGN.md section 10): throughput >= 60% of the bare endpoint; p99 < 15 ms at 100k
items and < 25 ms at 1M with ANN recall@10 >= 0.95; 1M x 64 within 0.5 GB above idle.

    .venv/bin/python benchmarks/serving.py [--quick] [--sizes 100000,1000000]
        [--connections 8] [--seconds 10] [--users 10000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from processes import cpu_seconds, free_port, process, rss_mb, wait_until  # a sibling module

DIM = 64
TOPICS = 1000
LIKES_PER_USER = 20
REQUEST_PATH = "/v1/users/{user}/recommendations?n=10"
BARE_ITEMS = [{"item_id": f"i{k:07d}", "score": 1.0 - k / 100} for k in range(10)]


# -- the synthetic catalogue -------------------------------------------------------------------


def item_id(j: int) -> str:
    return f"i{j:07d}"


def user_id(u: int) -> str:
    return f"u{u:06d}"


def build_catalogue(data_dir: Path, n_items: int, n_users: int, seed: int = 0) -> dict[str, Any]:
    """Store (items, users' likes) and registry (ALS, popular; nothing promoted yet)."""
    from recserve.algorithms import create
    from recserve.algorithms.factor_base import FactorModel
    from recserve.config import default_feedback_types
    from recserve.data import Dataset, Vocabulary
    from recserve.registry import ModelRegistry
    from recserve.store import Store

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    centres = rng.normal(size=(TOPICS, DIM)).astype(np.float32)
    item_topic = rng.integers(0, TOPICS, n_items)
    user_topic = rng.integers(0, TOPICS, n_users)
    items = np.empty((n_items, DIM), dtype=np.float32)
    for start in range(0, n_items, 100_000):  # bounded temporaries at 1M
        part = slice(start, min(start + 100_000, n_items))
        noise = rng.standard_normal((part.stop - part.start, DIM), dtype=np.float32)
        items[part] = 0.1 * (centres[item_topic[part]] + noise)
    users = centres[user_topic] + 0.5 * rng.standard_normal((n_users, DIM), dtype=np.float32)

    store = Store.open(f"sqlite:///{(data_dir / 'recserve.sqlite').resolve()}")
    for start in range(0, n_items, 50_000):
        store.items.upsert(
            [{"item_id": item_id(j)} for j in range(start, min(start + 50_000, n_items))]
        )
    by_topic = np.argsort(item_topic, kind="stable")
    cuts = np.searchsorted(item_topic[by_topic], np.arange(TOPICS + 1))
    events: list[dict[str, Any]] = []
    t, stored = 1_700_000_000.0, 0
    for u in range(n_users):  # likes among the items of the user's topic
        pool = by_topic[cuts[user_topic[u]] : cuts[user_topic[u] + 1]]
        for j in rng.choice(pool, min(LIKES_PER_USER, len(pool)), replace=False):
            t, stored = t + 1.0, stored + 1
            events.append(
                {"event_id": f"e{stored}", "user_id": user_id(u), "item_id": item_id(j)}
                | {"type": "like", "timestamp": t}
            )
        if len(events) >= 50_000:
            store.feedback.add(events)
            events = []
    store.feedback.add(events)

    registry = ModelRegistry(data_dir / "models")
    als = create("als", factors=DIM)
    assert isinstance(als, FactorModel)
    # factors set directly: the benchmark measures serving, not training
    als.users = Vocabulary([user_id(u) for u in range(n_users)])
    als.items = Vocabulary([item_id(j) for j in range(n_items)])
    als._set_factors(users, items, np.ones(n_users, bool), np.ones(n_items, bool))
    als_version = registry.register("als", als)
    data = Dataset.from_store(store, default_feedback_types())
    popular_version = registry.register("popular", create("popular").fit(data))
    store.close()
    return {
        "seconds": time.perf_counter() - t0,
        "als": als_version.version,
        "popular": popular_version.version,
        "events": len(data),
    }


def promote(data_dir: Path, versions: dict[str, Any]) -> None:
    from recserve.registry import ModelRegistry

    registry = ModelRegistry(data_dir / "models")
    registry.promote("recommended", "als", versions["als"])
    registry.promote("similar_items", "als", versions["als"])  # a second (cosine) index
    registry.promote("popular", "popular", versions["popular"])


# -- processes ---------------------------------------------------------------------------------


def wait_served(
    base: str, scenarios: tuple[str, ...], proc: subprocess.Popen[bytes], log: Path
) -> None:
    """Until ``/ready`` reports a model serving each of ``scenarios`` (it answers 503 while
    scenarios the benchmark does not promote, such as similar items, have none)."""
    deadline = time.monotonic() + 900
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        body = httpx.get(base + "/ready", timeout=120).json()
        ready = set(body.get("models") or {}) | {
            d.get("scenario") for d in body.get("details") or [] if d.get("ready")
        }
        if set(scenarios) <= ready:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{scenarios} not served:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@contextlib.contextmanager
def memory_guard(proc: subprocess.Popen[bytes], limit_mb: float) -> Iterator[list[float]]:
    """Stop ``proc`` if its RSS passes ``limit_mb`` (the machine is shared); yields a list
    that holds the peak RSS seen (sampled every 0.5 s)."""
    peak = [0.0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.5) and proc.poll() is None:
            with contextlib.suppress(OSError, RuntimeError):
                peak[0] = max(peak[0], rss_mb(proc.pid))
                if peak[0] > limit_mb:
                    print(f"server RSS {peak[0]:.0f} MB > {limit_mb:.0f} MB: stopped", flush=True)
                    proc.kill()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def run_bare(port: int, use_async: bool) -> None:
    """The peer: one FastAPI endpoint on the same path, a fixed 10-item JSON answer."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    path = "/v1/users/{user_id}/recommendations"

    def body(user_id: str) -> dict[str, Any]:
        return {"items": BARE_ITEMS, "model": "bare", "recommendation_id": user_id}

    if use_async:

        @app.get(path)
        async def recommend_async(user_id: str, n: int = 10) -> dict[str, Any]:
            return body(user_id)
    else:

        @app.get(path)
        def recommend(user_id: str, n: int = 10) -> dict[str, Any]:
            return body(user_id)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- the load generator (its own process) ----------------------------------------------------


async def _connection(
    port: int,
    path: str,
    users: int,
    warm_until: float,
    stop_at: float,
    out: list[float],
    errors: list[int],
    sweep: list[int] | None = None,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rnd = random.Random(port ^ id(out))
    while True:
        start = time.perf_counter()
        if start >= stop_at:
            break
        if sweep is not None:  # every user once, in turn
            if not sweep:
                break
            target = path.format(user=user_id(sweep.pop()))
        else:
            target = path.format(user=user_id(rnd.randrange(users)))
        writer.write(f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        end = time.perf_counter()
        if start >= warm_until:
            out.append(end - start)
            if status != 200:
                errors.append(status)
    writer.close()


async def _drive(
    port: int,
    path: str,
    users: int,
    connections: int,
    warmup: float,
    seconds: float,
    sweep: bool = False,
) -> dict:
    """The closed loop; ``sweep``: each user once (no warm-up, until all are done)."""
    now = time.perf_counter()
    warm_until, stop_at = now + warmup, now + warmup + seconds
    pending = list(range(users))[::-1] if sweep else None
    if sweep:
        warm_until, stop_at = now, np.inf
    latencies: list[float] = []
    errors: list[int] = []
    await asyncio.gather(
        *(
            _connection(port, path, users, warm_until, stop_at, latencies, errors, pending)
            for _ in range(connections)
        )
    )
    if sweep:
        seconds = time.perf_counter() - now
    lat = np.array(latencies) * 1000
    return {
        "requests": len(lat),
        "errors": len(errors),
        "rps": len(lat) / seconds,
        "p50": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        "p99": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
    }


def load(
    port: int, users: int, connections: int, warmup: float, seconds: float, sweep: bool = False
) -> dict:
    """Run the load generator in a separate process; its figures."""
    result = subprocess.run(
        [
            *(sys.executable, __file__, "--role", "load", "--port", str(port)),
            *("--users", str(users), "--connections", str(connections)),
            *("--warmup", str(warmup), "--seconds", str(seconds)),
            *(["--sweep"] if sweep else []),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- in-process measurements -----------------------------------------------------------------


def in_process(data_dir: Path, users: int, profile: bool, min_items: int) -> dict[str, Any]:
    """ANN recall@10 against exact, index build time, and one request's cost, in-process."""
    from recserve.config import default_feedback_types
    from recserve.registry import ModelRegistry
    from recserve.serving import ServingEngine
    from recserve.serving.history import HistoryCache
    from recserve.serving.retrieval import IvfIndex, attach_neighbours, attach_retrieval
    from recserve.store import Store

    store = Store.open(f"sqlite:///{(data_dir / 'recserve.sqlite').resolve()}")
    engine = ServingEngine(store, ModelRegistry(data_dir / "models"), default_feedback_types())
    engine.ann_min_items = min_items
    engine.histories = HistoryCache(100_000)  # as the server: live histories cached
    engine.refresh()
    model: Any = engine.served()["recommended"].model
    out: dict[str, Any] = {}
    model.attach_candidates(None)  # built again, to time it
    start = time.perf_counter()
    assert attach_retrieval(model, min_items)  # as the server does it: nprobe calibrated
    out["build_s"] = time.perf_counter() - start
    index = model.candidate_index
    assert isinstance(index, IvfIndex)
    out["cells"], out["nprobe"] = index.cells, index.nprobe

    rng = np.random.default_rng(1)
    sample = [user_id(u) for u in rng.choice(users, min(users, 300), replace=False)]

    def timed(ids: list[str]) -> tuple[list[list[str]], float]:
        lists, start = [], time.perf_counter()
        for uid in ids:
            lists.append(engine.recommend(uid, 10).item_ids)
        return lists, (time.perf_counter() - start) / len(ids) * 1000

    timed(sample)  # first requests build lazy state (item catalogue, cached histories)
    ann, out["ann_ms"] = timed(sample)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        timed(sample[:200])
        profiler.disable()
        print("\nwhere one request's time goes (ServingEngine.recommend, ANN, cumulative):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(22)
    model.attach_candidates(None)
    exact, out["exact_ms"] = timed(sample)
    model.attach_candidates(index)
    out["recall"] = _recall(ann, exact)

    # similar items: the champion's second index, over unit-length item factors (cosine)
    model.attach_neighbours(None)
    start = time.perf_counter()
    assert attach_neighbours(model, min_items)
    out["neighbours_build_s"] = time.perf_counter() - start
    neighbours = model.neighbour_index
    assert isinstance(neighbours, IvfIndex)
    out["neighbours_nprobe"] = neighbours.nprobe
    anchors = [item_id(int(j)) for j in rng.choice(model.n_items, 100, replace=False)]

    def similar(ids: list[str]) -> tuple[list[list[str]], float]:
        lists, start = [], time.perf_counter()
        for anchor in ids:
            lists.append(engine.similar_items(anchor, 10).item_ids)
        return lists, (time.perf_counter() - start) / len(ids) * 1000

    similar(anchors[:5])
    ann, out["similar_ann_ms"] = similar(anchors)
    model.attach_neighbours(None)
    exact, out["similar_exact_ms"] = similar(anchors)
    out["similar_recall"] = _recall(ann, exact)
    store.close()
    return out


def _recall(approximate: list[list[str]], exact: list[list[str]]) -> float:
    """Mean recall@10 of the approximate lists against the exact ones."""
    pairs = zip(approximate, exact, strict=True)
    return float(np.mean([len(set(a) & set(e)) / max(1, len(e)) for a, e in pairs]))


# -- the run -----------------------------------------------------------------------------------


def bench_size(n_items: int, args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"recserve-serving-{n_items}-"))
    try:
        return bench_in(root, n_items, args)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def bench_in(root: Path, n_items: int, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = root / "data"
    data_dir.mkdir()
    print(f"\n== {n_items:,} items x {DIM} dims, {args.users:,} users ==", flush=True)
    built = build_catalogue(data_dir, n_items, args.users)
    print(f"catalogue built in {built['seconds']:.0f}s ({built['events']:,} events)", flush=True)
    env = {
        **os.environ,
        "RECSERVE_MODEL_POLL_SECONDS": "0.5",
        "RECSERVE_LOG_LEVEL": "WARNING",
        "RECSERVE_ANN_MIN_ITEMS": str(args.ann_min_items),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    result: dict[str, Any] = {"items": n_items}
    port, bare_port = free_port(), free_port()
    server_cmd = [sys.executable, "-m", "recserve.cli", "--data-dir", str(data_dir), "serve"]
    bare_cmd = [sys.executable, __file__, "--role", "bare", "--port", str(bare_port)]
    with (
        process([*server_cmd, "--port", str(port)], root / "server.log", env) as server,
        process(
            bare_cmd + (["--bare-async"] if args.bare_async else []), root / "bare.log", env
        ) as bare,
        memory_guard(server, args.max_rss_mb) as peak,
    ):
        base = f"http://127.0.0.1:{port}"
        wait_until(base + "/health", server, root / "server.log")
        time.sleep(1.0)
        result["rss_idle"] = rss_mb(server.pid)
        start = time.perf_counter()
        promote(data_dir, built)
        # every champion served: the registry's promotions may reach the server's poll one
        # at a time, and a load still running would compete with the measured requests
        wait_served(base, ("recommended", "similar_items", "popular"), server, root / "server.log")
        result["load_s"] = time.perf_counter() - start
        result["rss_loaded"] = rss_mb(server.pid)
        body = httpx.get(f"{base}/v1/users/{user_id(0)}/recommendations?n=10").json()
        assert len(body["items"]) == 10 and body["model"].startswith("als/"), body
        wait_until(f"http://127.0.0.1:{bare_port}/v1/users/x/recommendations", bare, root / "b")
        # each user once: the first request of a user reads their history from the store;
        # afterwards the server is in the steady state of a long-running one (every active
        # user's history cached)
        cpu = cpu_seconds(server.pid)
        result["sweep"] = load(port, args.users, args.connections, 0, 0, sweep=True)
        result["sweep"]["cpu_ms"] = (
            (cpu_seconds(server.pid) - cpu) / max(1, result["sweep"]["requests"]) * 1000
        )
        for name, target, pid in (("server", port, server.pid), ("bare", bare_port, bare.pid)):
            cpu = cpu_seconds(pid)
            result[name] = load(target, args.users, args.connections, args.warmup, args.seconds)
            served = result[name]["requests"] * (args.warmup + args.seconds) / args.seconds
            result[name]["cpu_ms"] = (cpu_seconds(pid) - cpu) / max(1.0, served) * 1000
            # one connection: the latency of a request that does not queue behind others
            result[f"{name}_1"] = load(target, args.users, 1, args.warmup, args.seconds / 2)
        result["rss_serving"] = rss_mb(server.pid)
        result["rss_peak"] = peak[0]
    result |= in_process(data_dir, args.users, args.profile, args.ann_min_items)
    report(result)
    return result


def report(r: dict[str, Any]) -> None:
    s, b = r["server"], r["bare"]
    for name, x in (("recserve", s), ("bare FastAPI", b)):
        print(
            f"{name:<13} {x['rps']:8.0f} req/s   p50 {x['p50']:6.2f} ms   p99 {x['p99']:6.2f} ms"
            f"   ({x['requests']} requests, {x['errors']} errors)"
            f"   CPU {x['cpu_ms']:.3f} ms/request"
        )
    print(f"throughput ratio recserve / bare: {s['rps'] / b['rps']:.2f}")
    w = r["sweep"]
    print(
        f"first request of each user (history read from the store): {w['rps']:.0f} req/s"
        f"   p50 {w['p50']:6.2f} ms   p99 {w['p99']:6.2f} ms   CPU {w['cpu_ms']:.3f} ms/request"
    )
    print(f"server CPU per request recserve / bare: {s['cpu_ms'] / b['cpu_ms']:.2f}")
    for name, x in (("recserve", r["server_1"]), ("bare FastAPI", r["bare_1"])):
        print(
            f"{name:<13} 1 connection: {x['rps']:6.0f} req/s   p50 {x['p50']:6.2f} ms"
            f"   p99 {x['p99']:6.2f} ms"
        )
    print(
        f"ANN (faiss IVF-SQ8, {r['cells']} cells, nprobe {r['nprobe']} calibrated): recall@10 vs exact "
        f"{r['recall']:.3f}; index built in {r['build_s']:.1f}s; in-process recommend "
        f"{r['ann_ms']:.2f} ms with ANN, {r['exact_ms']:.2f} ms exact"
    )
    print(
        f"similar items (cosine index, nprobe {r['neighbours_nprobe']} calibrated): recall@10 "
        f"vs exact {r['similar_recall']:.3f}; index built in {r['neighbours_build_s']:.1f}s; "
        f"in-process {r['similar_ann_ms']:.2f} ms with ANN, {r['similar_exact_ms']:.2f} ms exact"
    )
    print(
        f"server RSS: idle {r['rss_idle']:.0f} MB, serving {r['rss_loaded']:.0f} MB "
        f"(+{r['rss_loaded'] - r['rss_idle']:.0f} MB; models loaded in {r['load_s']:.1f}s), "
        f"after the load {r['rss_serving']:.0f} MB (+{r['rss_serving'] - r['rss_idle']:.0f} MB), "
        f"peak {r['rss_peak']:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=["bench", "bare", "load"], default="bench")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default=REQUEST_PATH, help="load role: {user} is replaced")
    parser.add_argument("--quick", action="store_true", help="100k items only, short phases")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--ann-min-items", type=int, default=50_000)
    parser.add_argument("--bare-async", action="store_true", help="an async def peer endpoint")
    parser.add_argument("--profile", action="store_true", help="cProfile the request path")
    parser.add_argument("--sweep", action="store_true", help="load role: each user once")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folders")
    parser.add_argument("--max-rss-mb", type=float, default=6000, help="stop a bigger server")
    args = parser.parse_args()
    if args.role == "bare":
        run_bare(args.port, args.bare_async)
        return
    if args.role == "load":
        figures = asyncio.run(
            _drive(
                *(args.port, args.path, args.users, args.connections),
                *(args.warmup, args.seconds, args.sweep),
            )
        )
        print(json.dumps(figures))
        return
    if args.quick:
        args.sizes, args.users, args.warmup, args.seconds = "100000", 2000, 1.0, 4.0
    print(f"serving benchmark on {os.cpu_count()} CPUs; {args.connections} connections, ", end="")
    print(f"{args.warmup:.0f}s warm-up, {args.seconds:.0f}s timed, 1 uvicorn worker each")
    for size in (int(s) for s in args.sizes.split(",")):
        bench_size(size, args)


if __name__ == "__main__":
    main()
