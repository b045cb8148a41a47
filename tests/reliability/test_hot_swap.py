"""Hot swap under load: champions promoted and rolled back while clients keep asking.

A live server serves ``recommended``; load threads request recommendations without pause
while the test promotes item_knn and ease back and forth (and rolls back) through the API.
Every request must succeed, and both versions must have answered some of them.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from pathlib import Path

import httpx

from recserve.config import Settings
from recserve.registry import ModelRegistry
from recserve.store import Store
from recserve.training import train_default_models
from tests.api.conftest import BLOCKS, USERS_PER_BLOCK, synthetic_events, user_id
from tests.live import live_server

THREADS = 4
KNN, EASE = "item_knn/v0001", "ease/v0001"


def prepare(data_dir: Path) -> None:
    """The synthetic events stored and the default models trained (item_knn serves
    ``recommended``; ease is registered beside it)."""
    settings = Settings(data_dir=data_dir)
    store = Store.open(settings.resolved_database_url)
    try:
        store.feedback.add(synthetic_events())
        train_default_models(store, ModelRegistry(settings.models_dir), settings.feedback_types)
    finally:
        store.close()


class Load(threading.Thread):
    def __init__(self, base: str, offset: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.base, self.offset, self.stop = base, offset, stop
        self.models: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []

    def run(self) -> None:
        users = itertools.cycle(range(self.offset, BLOCKS * USERS_PER_BLOCK, THREADS))
        with httpx.Client(base_url=self.base, timeout=10) as client:
            while not self.stop.is_set():
                path = f"/v1/users/{user_id(next(users))}/recommendations"
                try:
                    response = client.get(path, params={"n": 5})
                except httpx.HTTPError as exc:
                    self.failures.append(f"{path}: {exc!r}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{path}: {response.status_code} {response.text}")
                else:
                    self.models[response.json()["model"]] += 1


def test_promotions_and_rollbacks_under_load_fail_no_request(tmp_path: Path) -> None:
    prepare(tmp_path)
    with live_server("serve", data_dir=tmp_path, ready_path="/ready") as (base, _process):
        stop = threading.Event()
        loads = [Load(base, k, stop) for k in range(THREADS)]
        for load in loads:
            load.start()
        served = []
        with httpx.Client(base_url=base, timeout=30) as admin:

            def swap(path: str, body: dict[str, str] | None = None) -> None:
                response = admin.post(path, json=body)
                assert response.status_code == 200, response.text
                served.append(response.json()["serving"])
                time.sleep(0.3)

            for _ in range(3):
                swap(f"/v1/models/{EASE}/promote", {"scenario": "recommended"})
                swap("/v1/scenarios/recommended/rollback")
                swap(f"/v1/models/{EASE}/promote", {"scenario": "recommended"})
                swap(f"/v1/models/{KNN}/promote", {"scenario": "recommended"})
        stop.set()
        for load in loads:
            load.join(timeout=15)

    assert served == [EASE, KNN, EASE, KNN] * 3
    failures = [f for load in loads for f in load.failures]
    assert failures == []
    models = sum((load.models for load in loads), collections.Counter())
    assert models[KNN] > 0 and models[EASE] > 0, models
    assert sum(models.values()) >= 50  # the load really ran through the swaps
