"""A database outage while serving: PostgreSQL (a private cluster) stopped, then started.

While it is down, recommendations go on from memory (cached histories, or the model's
trained state when a user's history cannot be read), writes answer 503
``database_unavailable`` with Retry-After, and /ready says not ready. Once it is back,
writes succeed again without a restart: the pool's pre-ping replaces dead connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings
from tests.api.conftest import block_items, synthetic_events, train
from tests.reliability.pgcluster import PrivatePostgres, private_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster() -> Iterator[PrivatePostgres]:
    with private_postgres() as pg:
        yield pg


def test_outage_serves_reads_refuses_writes_and_recovers(
    cluster: PrivatePostgres, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=cluster.url, model_poll_seconds=0)
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/feedback", json=synthetic_events()).status_code == 200
        train(client.app)  # type: ignore[arg-type]
        engine = client.app.state.engine  # type: ignore[attr-defined]
        before = client.get("/v1/users/u00/recommendations", params={"n": 5})
        assert before.status_code == 200, before.text
        assert client.get("/ready").status_code == 200

        cluster.stop()

        # u00's history is in memory; u09's was never read: it is served from trained state
        during = client.get("/v1/users/u00/recommendations", params={"n": 5})
        assert during.status_code == 200, during.text
        assert during.json()["items"] == before.json()["items"]
        fallbacks = engine.histories_reader.fallbacks
        cold = client.get("/v1/users/u09/recommendations", params={"n": 5})
        assert cold.status_code == 200, cold.text
        assert engine.histories_reader.fallbacks == fallbacks + 1
        items = [row["item_id"] for row in cold.json()["items"]]
        assert items and set(items) <= set(block_items(1))  # u09's taste block, from training

        event = {"user_id": "u00", "item_id": "i05", "type": "like", "event_id": "outage-1"}
        write = client.post("/v1/feedback", json=[event])
        assert write.status_code == 503, write.text
        assert write.json()["code"] == "database_unavailable"
        assert write.headers["Retry-After"] == "1"
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["code"] == "not_ready"
        assert {"component": "database", "ready": False} in ready.json()["details"]

        cluster.start()

        again = client.post("/v1/feedback", json=[event])  # no retry needed: pre-ping
        assert again.status_code == 200, again.text
        assert again.json()["accepted"] == 1
        assert client.get("/ready").status_code == 200
        after = client.get("/v1/users/u09/recommendations", params={"n": 5})
        assert after.status_code == 200 and engine.histories_reader.fallbacks == fallbacks + 1
