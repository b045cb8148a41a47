"""The scenarios on the real PostgreSQL server: attribute filters over JSON columns read
from it, stored sessions, the friend graph and live counters give the same answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings
from tests.api.test_scenarios import block_of, get, ids, populate, recs

pytestmark = pytest.mark.postgres


def test_scenarios_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url, model_poll_seconds=0)
    with TestClient(create_app(settings)) as client:
        world = populate(client)
        assert set(recs(world, n=3, filter="price >= 7 and color in ('red', 'blue')")) == {
            "i07",
            "i08",
            "i09",
        }
        world.patch("/v1/items/i09", json={"attributes": {"price": 100}})
        assert recs(world, n=5, filter="price >= 50") == ["i09"]

        events = [
            {"user_id": "anon", "item_id": "i21", "type": "view", "session_id": "s-pg"},
            {"user_id": "anon", "item_id": "i22", "type": "click", "session_id": "s-pg"},
        ]
        assert world.post("/v1/feedback", json=events).status_code == 200
        session = ids(get(world, "/v1/sessions/s-pg/recommendations", n=4))
        assert {block_of(i) for i in session} == {2} and not {"i21", "i22"} & set(session)

        pairs = [("u00", "u01"), ("u01", "u02"), ("u04", "u00"), ("u02", "u04"), ("u01", "u03")]
        world.post("/v1/relations", json=[{"user_id": a, "other_user_id": b} for a, b in pairs])
        people = get(world, "/v1/users/u00/people-you-may-know")["users"]
        assert [p["user_id"] for p in people] == ["u02", "u03"]

        likes = [{"user_id": f"fan{k}", "item_id": "i17", "type": "like"} for k in range(8)]
        world.post("/v1/feedback", json=likes)
        assert ids(get(world, "/v1/popular", n=1)) == ["i17"]
