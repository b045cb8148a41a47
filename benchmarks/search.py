"""Search quality and latency on MovieLens latest-small, over HTTP against a real server.

Known-item queries: for a seeded sample of movies, (a) the title without its year, and
(b) one of the tags users gave the movie (tags.csv). A query hits when its movie is in the
first 10 results. Each query runs in the three modes of ``GET /v1/search`` (``words``:
the database's full-text index; ``meaning``: MiniLM vectors; ``hybrid``: both fused by
rank), and the script prints hit@10 per mode and query kind, then the latency of hybrid
queries (p50, p99) from one client.

    .venv/bin/python benchmarks/search.py [--movies 300] [--min-ratings 20] [--seed 0]

The server encodes the catalogue's vectors after the first search (printed as
``encoding``); the queries start once it reports ``semantic: ready``.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np

from processes import free_port, process, wait_until

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "movielens-latest-small"
MODES = ("words", "meaning", "hybrid")
YEAR = re.compile(r"\s*\(\d{4}\)\s*$")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def movies(min_ratings: int) -> tuple[list[dict], dict[str, list[str]]]:
    ratings = Counter(r["movieId"] for r in _rows(DATA / "ratings.csv"))
    tags: dict[str, set[str]] = defaultdict(set)
    for row in _rows(DATA / "tags.csv"):
        tags[f"m{row['movieId']}"].add(row["tag"].strip())
    rows = [
        {
            "item_id": f"m{row['movieId']}",
            "title": row["title"],
            "categories": [g for g in row["genres"].split("|") if g != "(no genres listed)"],
            "tags": sorted(tags[f"m{row['movieId']}"]),
        }
        for row in _rows(DATA / "movies.csv")
        if ratings[row["movieId"]] >= min_ratings
    ]
    return rows, {k: sorted(v) for k, v in tags.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=300, help="known-item queries per kind")
    parser.add_argument("--min-ratings", type=int, default=20, help="catalogue: rated this often")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    catalogue, tags = movies(args.min_ratings)
    rng = random.Random(args.seed)
    sample = rng.sample(catalogue, min(args.movies, len(catalogue)))
    title_queries = [(YEAR.sub("", m["title"]), m["item_id"]) for m in sample]
    tagged = [m for m in catalogue if tags.get(m["item_id"])]
    tag_queries = [
        (rng.choice(tags[m["item_id"]]), m["item_id"])
        for m in rng.sample(tagged, min(args.movies, len(tagged)))
    ]
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "RECSERVE_DATA_DIR": data_dir, "RECSERVE_MAX_BATCH_SIZE": "20000"}
        log = Path(data_dir) / "server.log"
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "recserve.cli", "serve", "--port", str(port)]
        with process(command, log, env) as server:
            wait_until(f"{base}/health", server, log, timeout=60)
            run(base, catalogue, title_queries, tag_queries)


def run(base: str, catalogue: list[dict], titles: list, tags: list) -> None:
    with httpx.Client(base_url=base, timeout=60) as http:
        http.post("/v1/items", json=catalogue).raise_for_status()
        started = time.perf_counter()
        while http.get("/v1/search", params={"q": "warm up"}).json()["semantic"] != "ready":
            time.sleep(0.5)
        print(f"catalogue: {len(catalogue)} movies; encoding {time.perf_counter() - started:.1f} s")
        print(f"{'queries':<22}" + "".join(f"{m:>10}" for m in MODES))
        latencies: list[float] = []
        for kind, queries in (("title (no year)", titles), ("a user's tag", tags)):
            hits = dict.fromkeys(MODES, 0)
            for text, item_id in queries:
                for mode in MODES:
                    start = time.perf_counter()
                    body = http.get("/v1/search", params={"q": text, "n": 10, "mode": mode}).json()
                    if mode == "hybrid":
                        latencies.append(time.perf_counter() - start)
                    hits[mode] += item_id in {h["item_id"] for h in body["items"]}
            rates = "".join(f"{hits[m] / len(queries):>10.3f}" for m in MODES)
            print(f"{kind + f' ({len(queries)})':<22}{rates}")
        ms = np.array(latencies) * 1000
        print(
            f"hybrid latency over HTTP, one client: p50 {np.percentile(ms, 50):.1f} ms, "
            f"p99 {np.percentile(ms, 99):.1f} ms ({len(ms)} queries)"
        )


if __name__ == "__main__":
    main()
