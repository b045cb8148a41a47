"""Recommendations, similar items and popular items from models trained on synthetic data."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from recserve.training import train_default_models
from tests.api.conftest import (
    BLOCKS,
    ITEMS_PER_BLOCK,
    USERS_PER_BLOCK,
    block_items,
    synthetic_events,
    train,
)


def recommended(client: TestClient, user: str, n: int = 10) -> list[str]:
    response = client.get(f"/v1/users/{user}/recommendations", params={"n": n})
    assert response.status_code == 200, response.text
    return [entry["item_id"] for entry in response.json()["items"]]


def rated_items(client: TestClient, user: str) -> set[str]:
    return {e["item_id"] for e in client.get(f"/v1/users/{user}/feedback").json()["data"]}


def test_model_not_ready_before_training(client: TestClient) -> None:
    client.post("/v1/items", json=[{"item_id": "a"}])
    for path in (
        "/v1/users/u00/recommendations",
        "/v1/popular",
        "/v1/popular?user_id=u00",
        "/v1/items/a/similar",
    ):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.json()["code"] == "model_not_ready"
        assert response.headers["retry-after"]


def test_ready_after_training(client: TestClient) -> None:
    before = client.get("/ready")
    assert before.status_code == 503 and before.json()["code"] == "not_ready"
    client.post("/v1/feedback", json=synthetic_events())
    train(client.app)  # type: ignore[arg-type]
    ready = client.get("/ready")
    assert ready.status_code == 200
    # the scenarios readiness needs; the default training serves more besides
    assert {"recommended", "similar_items", "popular"} <= set(ready.json()["models"])


def test_recommendations_are_unseen_items_of_the_users_block(trained_client: TestClient) -> None:
    for u in (0, USERS_PER_BLOCK + 3, 2 * USERS_PER_BLOCK + 7):
        user = f"u{u:02d}"
        response = trained_client.get(f"/v1/users/{user}/recommendations", params={"n": 10})
        body = response.json()
        assert body["user_id"] == user and body["model"].startswith("item_knn/")
        assert len(body["recommendation_id"]) == 32
        items = [entry["item_id"] for entry in body["items"]]
        assert len(items) == 10 and len(set(items)) == 10
        assert not set(items) & rated_items(trained_client, user)  # liked and disliked
        unseen_own = set(block_items(u // USERS_PER_BLOCK)) - rated_items(trained_client, user)
        assert set(items[: len(unseen_own)]) == unseen_own
        scores = [entry["score"] for entry in body["items"]]
        assert scores == sorted(scores, reverse=True)


def test_new_event_removes_item_from_next_recommendations(trained_client: TestClient) -> None:
    first = recommended(trained_client, "u00", n=3)
    top = first[0]
    trained_client.post("/v1/feedback", json=[{"user_id": "u00", "item_id": top, "type": "view"}])
    assert top in recommended(trained_client, "u00", n=3)  # a view is not feedback on it
    trained_client.post("/v1/feedback", json=[{"user_id": "u00", "item_id": top, "type": "click"}])
    assert top not in recommended(trained_client, "u00", n=30)
    other = recommended(trained_client, "u00", n=3)[0]
    trained_client.post(
        "/v1/feedback", json=[{"user_id": "u00", "item_id": other, "type": "dislike"}]
    )
    assert other not in recommended(trained_client, "u00", n=30)


def test_unknown_user_gets_popular(trained_client: TestClient) -> None:
    body = trained_client.get("/v1/users/stranger/recommendations", params={"n": 5}).json()
    popular = trained_client.get("/v1/popular", params={"n": 5}).json()
    assert body["model"].startswith("popular/") and body["user_id"] == "stranger"
    assert [i["item_id"] for i in body["items"]] == [i["item_id"] for i in popular["items"]]
    assert trained_client.get("/v1/users/stranger").status_code == 404  # nothing was created


def test_new_user_with_a_few_events_gets_personal_items(trained_client: TestClient) -> None:
    liked = block_items(1)[:2]
    trained_client.post(
        "/v1/feedback", json=[{"user_id": "newbie", "item_id": i, "type": "like"} for i in liked]
    )
    items = recommended(trained_client, "newbie", n=5)
    assert not set(items) & set(liked)
    assert set(items) <= set(block_items(1))


def test_similar_items(trained_client: TestClient) -> None:
    item = block_items(2)[0]
    body = trained_client.get(f"/v1/items/{item}/similar", params={"n": 5}).json()
    assert body["item_id"] == item and len(body["items"]) == 5
    similar = [entry["item_id"] for entry in body["items"]]
    assert item not in similar and set(similar) <= set(block_items(2))

    missing = trained_client.get("/v1/items/no-such-item/similar")
    assert missing.status_code == 404 and missing.json()["code"] == "item_not_found"
    trained_client.post("/v1/items", json=[{"item_id": "brand-new"}])
    assert trained_client.get("/v1/items/brand-new/similar").json()["items"] == []


def test_popular(trained_client: TestClient) -> None:
    body = trained_client.get("/v1/popular", params={"n": 7}).json()
    items = [entry["item_id"] for entry in body["items"]]
    assert len(items) == 7 and body["model"].startswith("popular/") and body["user_id"] is None
    scores = [entry["score"] for entry in body["items"]]
    assert scores == sorted(scores, reverse=True)

    everything = BLOCKS * ITEMS_PER_BLOCK
    mine = trained_client.get("/v1/popular", params={"n": everything, "user_id": "u00"}).json()
    mine_items = [entry["item_id"] for entry in mine["items"]]
    assert mine["user_id"] == "u00"
    assert not set(mine_items) & rated_items(trained_client, "u00")
    assert len(mine_items) == everything - len(rated_items(trained_client, "u00"))


def test_hidden_and_deleted_items_are_not_served(trained_client: TestClient) -> None:
    top = recommended(trained_client, "u00", n=1)[0]
    hidden = trained_client.patch(f"/v1/items/{top}", json={"hidden": True})
    assert hidden.json()["hidden"] is True
    assert top not in recommended(trained_client, "u00", n=30)
    popular = trained_client.get("/v1/popular", params={"n": 30}).json()["items"]
    assert top not in {entry["item_id"] for entry in popular}

    trained_client.patch(f"/v1/items/{top}", json={"hidden": False})
    assert top in recommended(trained_client, "u00", n=30)

    trained_client.delete(f"/v1/items/{top}")
    assert top not in recommended(trained_client, "u00", n=30)
    neighbour = block_items(0)[0] if top != block_items(0)[0] else block_items(0)[1]
    similar = trained_client.get(f"/v1/items/{neighbour}/similar", params={"n": 30}).json()
    assert top not in {entry["item_id"] for entry in similar["items"]}

    # Re-creating the item through the catalogue serves it again.
    trained_client.post("/v1/items", json=[{"item_id": top}])
    assert top in {e["item_id"] for e in trained_client.get("/v1/popular?n=30").json()["items"]}


def test_poller_swaps_in_new_champions(make_client: Callable[..., TestClient]) -> None:
    client = make_client(model_poll_seconds=0.05)
    assert client.get("/ready").status_code == 503
    client.post("/v1/feedback", json=synthetic_events())
    state = client.app.state  # type: ignore[attr-defined]
    # Another process would do this; the poller must notice without a refresh call here.
    train_default_models(state.store, state.registry, state.settings.feedback_types)
    deadline = time.monotonic() + 5
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, "the poller did not load the new champions"
        time.sleep(0.02)
    assert client.get("/v1/popular").status_code == 200
