"""Two app instances over one store and registry, sharing Redis (in-process TestClients: the
fast counterpart of test_replicas_live.py). Their champion pollers are off, so only the
Redis notifications can move the second one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings
from recserve.registry import ModelRegistry
from recserve.training import train_default_models
from recserve.training.pipeline import DEFAULT_MODELS
from tests.api.conftest import synthetic_events
from tests.replication.support import REDIS_URL

pytestmark = pytest.mark.redis
POPULAR = {"popular": DEFAULT_MODELS["popular"]}


@pytest.fixture
def pair(tmp_path: Path, redis_prefix: str) -> Iterator[tuple[TestClient, TestClient]]:
    settings = Settings(
        data_dir=tmp_path, model_poll_seconds=0, redis_url=REDIS_URL, redis_prefix=redis_prefix
    )
    with TestClient(create_app(settings)) as a:
        state = a.app.state  # type: ignore[attr-defined]
        state.store.feedback.add(synthetic_events())
        for _ in range(2):  # popular/v0001, then popular/v0002 the champion
            train_default_models(
                state.store, state.registry, settings.feedback_types, models=POPULAR
            )
        with TestClient(create_app(settings)) as b:
            yield a, b


def serving(client: TestClient) -> str:
    return str(client.get("/v1/popular").json()["model"])


# How long a notification may take to arrive: generous, because a loaded 2-core machine
# (the whole suite) took over 1 s; the pollers are off, so only Redis can move a replica
# and a longer bound cannot let a wrong mechanism pass.
ARRIVAL = 15.0


def within(seconds: float, check: Callable[[], bool]) -> bool:
    """Whether ``check`` holds within ``seconds`` (polled; returns as soon as it does)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_promote_and_rollback_reach_the_other_instance(pair: tuple[TestClient, TestClient]) -> None:
    a, b = pair
    assert within(ARRIVAL, lambda: serving(a) == serving(b) == "popular/v0002")
    response = a.post("/v1/models/popular/v0001/promote", json={"scenario": "popular"})
    assert response.status_code == 200
    assert within(ARRIVAL, lambda: serving(b) == "popular/v0001")
    assert b.post("/v1/scenarios/popular/rollback").status_code == 200
    assert within(ARRIVAL, lambda: serving(a) == "popular/v0002")


def test_a_finished_training_job_is_announced(
    pair: tuple[TestClient, TestClient], tmp_path: Path
) -> None:
    a, b = pair
    assert within(ARRIVAL, lambda: serving(b) == "popular/v0002")
    # A training worker promotes through a plain registry in its own process ...
    ModelRegistry(tmp_path / "models").promote("popular", "popular", "v0001")
    time.sleep(0.3)
    assert serving(b) == "popular/v0002"  # no poller: nothing moves B yet
    # ... and the API process that ran it announces the change when the job ends.
    a.app.state.job_runner.on_finish()  # type: ignore[attr-defined]
    assert within(ARRIVAL, lambda: serving(b) == serving(a) == "popular/v0001")


def test_live_counts_are_shared(pair: tuple[TestClient, TestClient]) -> None:
    a, b = pair

    def scores(client: TestClient) -> dict[str, float]:
        body = client.get("/v1/popular", params={"n": 100}).json()
        return {entry["item_id"]: entry["score"] for entry in body["items"]}

    before = scores(b)
    item = min(before, key=before.__getitem__)
    like = [{"user_id": "newcomer", "item_id": item, "type": "like"}]
    assert a.post("/v1/feedback", json=like).status_code == 200
    assert b.post("/v1/feedback", json=like).status_code == 200  # the same user again, via B
    assert within(ARRIVAL, lambda: scores(b)[item] == before[item] + 1)
    time.sleep(0.15)  # past the counters' cache: still one vote per (user, item), not two
    assert scores(a)[item] == scores(b)[item] == before[item] + 1
