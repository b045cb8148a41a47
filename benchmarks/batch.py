"""Batch recommendations: users/s of ``recserve recommend --all`` (chunks of users, one
events query and one model call per chunk) against the same lists asked one user at a
time through the engine (one history read and one model call per user, as the per-user
endpoint does without its HTTP layer), on the demo data set.

Each promoted model is timed both ways on the same store, with the history cache empty,
and the lists compared (items equal; largest score difference). CPU time of this process
is printed beside wall time: it depends less on the machine's load.

    .venv/bin/python benchmarks/batch.py [--users 2000] [--items 4000] [--models als,ease]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from recserve.algorithms import create
from recserve.batch.export import export_recommendations
from recserve.batch.standalone import serving_engine
from recserve.config import Settings
from recserve.data import Dataset
from recserve.demo import load_demo
from recserve.registry import ModelRegistry
from recserve.serving import ListOptions
from recserve.store import Store
from recserve.training import train_default_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--models", default="als,ease,item_knn")
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="recserve-batch-bench-"))
    settings = Settings(data_dir=folder)
    store = Store.open(settings.resolved_database_url)
    report = load_demo(store, seed=0, n_users=args.users, n_items=args.items)
    print(f"demo data: {report}; load average {os.getloadavg()[0]:.1f}")
    registry = ModelRegistry(settings.models_dir)
    train_default_models(store, registry, settings.feedback_types)
    data = Dataset.from_store(store, settings.feedback_types)
    print(
        f"{'model':<16} {'batch users/s':>14} {'cpu s':>7} {'per-user users/s':>17} "
        f"{'cpu s':>7} {'speed-up':>9} {'lists equal':>12} {'max |score diff|':>17}"
    )
    for family in args.models.split(","):
        version = registry.register(family, create(family).fit(data))
        registry.promote("recommended", family, version.version)
        with serving_engine(settings) as engine:
            out = folder / f"{family}.jsonl"
            wall, cpu = time.perf_counter(), time.process_time()
            exported = export_recommendations(engine, out, n=args.n)
            batch_wall, batch_cpu = time.perf_counter() - wall, time.process_time() - cpu
            users = store.users.all_keys()
            engine.histories.clear()
            options = ListOptions(n=args.n)
            wall, cpu = time.perf_counter(), time.process_time()
            single = [engine.recommend(u, options, log=False) for u in users]
            one_wall, one_cpu = time.perf_counter() - wall, time.process_time() - cpu
            lines = [json.loads(line) for line in out.read_text().splitlines()]
            equal = sum(
                [i["item_id"] for i in line["items"]] == s.item_ids
                for line, s in zip(lines, single, strict=True)
            )
            diff = max(
                (
                    abs(i["score"] - score)
                    for line, s in zip(lines, single, strict=True)
                    for i, score in zip(line["items"], s.scores, strict=False)
                ),
                default=0.0,
            )
            print(
                f"{engine.served()['recommended'].ref:<16} {exported.users / batch_wall:>14,.0f} "
                f"{batch_cpu:>7.2f} {len(users) / one_wall:>17,.0f} {one_cpu:>7.2f} "
                f"{one_wall / batch_wall:>8.1f}x {equal:>6}/{len(users):<5} {diff:>17.2e}"
            )
    store.close()


if __name__ == "__main__":
    main()
