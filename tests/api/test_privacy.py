"""Privacy: the user export, and a delete that removes the user from served models at once
(trained vector, similar users), for good (restarts, other replicas) and from the next
training; on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from recserve.algorithms import create
from recserve.api import create_app, user_export
from recserve.config import Settings
from recserve.data import Dataset
from recserve.store import Store
from recserve.store.forgotten import snapshot_time, user_key
from recserve.training import train_default_models
from recserve.training.pipeline import snapshot
from tests.api.conftest import block_items, synthetic_events

ADMIN = {"X-API-Key": "admin-key-1234"}
KEYS = [
    {"key": "admin-key-1234", "scopes": ["admin"]},
    {"key": "writer-key-123", "scopes": ["read", "write"]},
]
MODELS: dict[str, Any] = {
    "popular": ("popular", {"half_life_days": None}, ("popular",)),
    "item_knn": ("item_knn", {"neighbours": 20}, ("similar_items",)),
    "als": ("als", {"factors": 8, "iterations": 10, "num_threads": 1}, ("recommended",)),
    "user_knn": ("user_knn", {"neighbours": 10}, ("people_you_may_know",)),
}
GONE = "u00"  # block 0, deleted in the tests
PEER = "u01"  # block 0: u00 is among their most similar users


def train(app: FastAPI) -> None:
    state = app.state
    train_default_models(state.store, state.registry, state.settings.feedback_types, models=MODELS)
    state.engine.refresh()


@pytest.fixture
def open_client(database_url: str, tmp_path: Path) -> Iterator[Callable[[], TestClient]]:
    """Started clients over one data folder and database (a restart: open another)."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        settings = Settings(
            data_dir=tmp_path, database_url=database_url, model_poll_seconds=0, api_keys=KEYS
        )
        client = TestClient(create_app(settings), headers=ADMIN)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def trained(open_client: Callable[[], TestClient]) -> TestClient:
    client = open_client()
    assert client.post("/v1/feedback", json=synthetic_events()).status_code == 200
    train(client.app)  # type: ignore[arg-type]
    return client


def recs(client: TestClient, user_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/users/{user_id}/recommendations", params={"n": 5})
    assert response.status_code == 200, response.text
    return response.json()


def people(client: TestClient, user_id: str) -> list[str]:
    response = client.get(f"/v1/users/{user_id}/people-you-may-know", params={"n": 20})
    assert response.status_code == 200, response.text
    return [p["user_id"] for p in response.json()["users"]]


def export(client: TestClient, user_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/users/{user_id}/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


# export -----------------------------------------------------------------------------------


def test_export_holds_exactly_the_users_rows(
    trained: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(user_export, "EVENT_PAGE", 4)  # several pages in one stream
    client = trained
    client.patch(f"/v1/users/{GONE}", json={"attributes": {"city": "Oslo"}, "tags": ["vip"]})
    pairs = [(GONE, "u01"), ("u05", GONE), ("u01", "u02"), ("u03", "u04")]
    relations = [{"user_id": a, "other_user_id": b} for a, b in pairs]
    assert client.post("/v1/relations", json=relations).status_code == 200

    document = export(client, GONE)
    assert document["user"]["user_id"] == GONE
    assert document["user"]["attributes"] == {"city": "Oslo"}
    assert document["user"]["tags"] == ["vip"]
    assert {(r["user_id"], r["other_user_id"]) for r in document["relations"]} == {
        (GONE, "u01"),
        ("u05", GONE),
    }
    mine = sorted((e["item_id"], e["type"]) for e in synthetic_events() if e["user_id"] == GONE)
    assert document["event_count"] == len(mine) == 6
    assert sorted((e["item_id"], e["type"]) for e in document["events"]) == mine
    assert {e["user_id"] for e in document["events"]} == {GONE}

    versions = {v["name"]: v for v in document["models"]["versions"]}
    assert set(versions) == set(MODELS)  # all trained after the user was stored
    assert versions["als"]["served_for"] == ["recommended"]
    assert versions["als"]["contains_user"] is True
    assert "may contain" in document["models"]["note"]


def test_export_holds_the_lists_served_to_the_user_in_experiments(trained: TestClient) -> None:
    client = trained
    experiment = {
        "experiment_id": "exp-privacy",
        "scenario": "recommended",
        "variants": [
            {"name": "control", "share": 0.5, "model": "champion"},
            {"name": "knn", "share": 0.5, "model": "item_knn/v0001"},
        ],
    }
    assert client.post("/v1/experiments", json=experiment).status_code == 201
    served = recs(client, GONE)
    assert served["experiment"] == "exp-privacy"
    deadline = time.monotonic() + 10  # the served-list log is written in the background
    while not (lists := export(client, GONE)["experiment_lists"]):
        assert time.monotonic() < deadline, "the served list never reached the log"
        time.sleep(0.1)
    assert [(x["recommendation_id"], x["variant"]) for x in lists] == [
        (served["recommendation_id"], served["variant"])
    ]
    assert lists[0]["items"] == [i["item_id"] for i in served["items"]]
    assert export(client, PEER)["experiment_lists"] == []


def test_export_lists_no_model_trained_before_the_user(trained: TestClient) -> None:
    client = trained
    assert client.post(
        "/v1/feedback", json=[{"user_id": "late", "item_id": "i01", "type": "like"}]
    ).is_success
    document = export(client, "late")
    assert document["models"]["versions"] == []
    assert document["event_count"] == 1 and document["relations"] == []


def test_export_errors(open_client: Callable[[], TestClient]) -> None:
    client = open_client()
    response = client.get("/v1/users/nobody/export")
    assert response.status_code == 404 and response.json()["code"] == "user_not_found"
    client.post("/v1/users", json=[{"user_id": "someone"}])
    writer = {"X-API-Key": "writer-key-123"}
    response = client.get("/v1/users/someone/export", headers=writer)
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"
    response = client.delete("/v1/users/nobody")
    assert response.status_code == 404 and response.json()["code"] == "user_not_found"


# delete -----------------------------------------------------------------------------------


def test_delete_forgets_the_user_in_served_models_at_once_and_for_good(
    trained: TestClient, open_client: Callable[[], TestClient]
) -> None:
    client = trained
    assert recs(client, GONE)["model"].startswith("als/")  # a trained vector
    assert GONE in people(client, PEER)

    assert client.delete(f"/v1/users/{GONE}").status_code == 204
    assert client.get(f"/v1/users/{GONE}").status_code == 404
    assert client.get(f"/v1/users/{GONE}/feedback").status_code == 404
    store = client.app.state.store  # type: ignore[attr-defined]
    assert store.feedback.for_user(GONE) == ([], None) and store.relations.for_user(GONE) == []
    cold = recs(client, GONE)
    assert cold["model"].startswith("popular/")  # the cold-start path, not the old vector
    assert people(client, GONE) == []
    for other in ("u01", "u02", "u05"):
        assert GONE not in people(client, other)
    assert people(client, PEER)  # the others still have their similar users

    client.__exit__(None, None, None)  # a restart: a new app on the same folder and database
    again = open_client()
    assert recs(again, GONE)["model"].startswith("popular/")
    assert GONE not in people(again, PEER)


def test_next_training_excludes_the_deleted_user(trained: TestClient) -> None:
    client = trained
    assert client.delete(f"/v1/users/{GONE}").status_code == 204
    app: Any = client.app
    data: Dataset = snapshot(app.state.store, app.state.settings.feedback_types)
    assert GONE not in data.users and len(data) == len(synthetic_events()) - 6
    train(app)
    served = app.state.engine.served()
    assert all(GONE not in s.model.users for s in served.values() if s.model.users is not None)
    assert recs(client, GONE)["model"].startswith("popular/")
    assert GONE not in people(client, PEER)


def test_a_reused_id_is_a_new_person(trained: TestClient) -> None:
    """New events for a deleted id start a fresh user: served with their new history only
    (never the old vector), until a training after the deletion knows them again."""
    client = trained
    assert client.delete(f"/v1/users/{GONE}").status_code == 204
    new_history = [
        {"user_id": GONE, "item_id": item, "type": "like"} for item in block_items(1)[:5]
    ]
    assert client.post("/v1/feedback", json=new_history).status_code == 200
    answer = recs(client, GONE)
    assert answer["model"].startswith("als/")  # folded in from the new history
    assert {item["item_id"] for item in answer["items"]} <= set(block_items(1))
    assert GONE not in people(client, PEER)  # the old neighbour row stays hidden
    document = export(client, GONE)
    assert document["event_count"] == 5
    assert {v["name"] for v in document["models"]["versions"]} == set()  # trained before

    train(client.app)  # type: ignore[arg-type]  # trained after the deletion: known again
    document = export(client, GONE)
    versions = {v["name"]: v for v in document["models"]["versions"]}
    assert versions["als"]["contains_user"] is True
    assert recs(client, GONE)["model"].startswith("als/")
    assert GONE in people(client, "u10")  # block 1 now: similar to its new peers


def test_deletion_after_the_snapshot_still_blocks_a_model_registered_later(
    trained: TestClient,
) -> None:
    """A model whose data was read before the deletion but registered after it keeps the
    user's vector: the snapshot time, not the registration time, decides."""
    client = trained
    app: Any = client.app
    state = app.state
    taken_at = time.time()  # as the pipeline records it: when the read began
    data = snapshot(state.store, state.settings.feedback_types)
    model = create("als", factors=8, iterations=10, num_threads=1).fit(data)
    assert client.delete(f"/v1/users/{GONE}").status_code == 204
    version = state.registry.register("als_late", model, data_stats={"snapshot_at": taken_at})
    assert version.manifest["created_at"] > taken_at
    state.registry.promote("recommended", "als_late", version.version)
    state.engine.refresh()
    answer = recs(client, GONE)
    assert answer["model"].startswith("popular/")


def test_a_delete_reaches_another_replica(
    trained: TestClient, open_client: Callable[[], TestClient]
) -> None:
    """Two apps over one database and registry: a delete through one is applied by the
    other when it next reads the marks (every ``engine.forgotten.reload_seconds``)."""
    other = open_client()
    engine = other.app.state.engine  # type: ignore[attr-defined]
    engine.forgotten.reload_seconds = 0.2
    assert recs(other, GONE)["model"].startswith("als/")
    assert trained.delete(f"/v1/users/{GONE}").status_code == 204
    deadline = time.monotonic() + 5
    while recs(other, GONE)["model"].startswith("als/") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert recs(other, GONE)["model"].startswith("popular/")
    assert GONE not in people(other, PEER)


def test_forgotten_marks_in_the_store(database_url: str) -> None:
    """Marks keep no id in clear, keep the latest deletion, and a manifest's snapshot time
    wins over its registration time."""
    store = Store.open(database_url)
    try:
        store.users.upsert([{"user_id": "x"}])
        assert store.delete_user("x") and not store.delete_user("x")
        first = store.forgotten.deleted_at("x")
        assert first is not None and first <= time.time()
        assert list(store.forgotten.all()) == [user_key("x")] and "x" not in store.forgotten.all()
        store.users.upsert([{"user_id": "x"}])
        assert store.delete_user("x")
        later = store.forgotten.deleted_at("x")
        assert later is not None and later >= first and len(store.forgotten.all()) == 1
    finally:
        store.close()
    assert snapshot_time({"created_at": 5.0, "data": {"snapshot_at": 3.0}}) == (
        3.0,
        "data.snapshot_at",
    )
    assert snapshot_time({"created_at": 5.0, "data": {}}) == (5.0, "created_at")
    assert snapshot_time({}) == (None, None)
