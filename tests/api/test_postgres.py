"""The API on the real PostgreSQL server: the same answers, and text PostgreSQL refuses
(NUL characters) is a 4xx, not a 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings
from tests.api.conftest import synthetic_events, train

pytestmark = pytest.mark.postgres


def test_api_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url, model_poll_seconds=0)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.post("/v1/items", json=[{"item_id": "a", "title": "A"}]).status_code == 200
        assert client.get("/v1/items/a").json()["title"] == "A"

        nul = client.post("/v1/items", json=[{"item_id": "b", "title": "x\u0000y"}])
        assert 400 <= nul.status_code < 500 and nul.json()["code"] == "invalid_value"
        assert client.get("/v1/users", params={"cursor": "AA"}).json()["code"] == "invalid_cursor"

        events = synthetic_events()
        events[0]["event_id"] = "once"
        assert client.post("/v1/feedback", json=events).json()["accepted"] == len(events)
        assert client.post("/v1/feedback", json=events[:1]).json() == {
            "accepted": 0,
            "duplicates": 1,
        }
        train(client.app)  # type: ignore[arg-type]
        assert client.get("/ready").status_code == 200
        items = client.get("/v1/users/u00/recommendations", params={"n": 5}).json()["items"]
        assert len(items) == 5
