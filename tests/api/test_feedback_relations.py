"""Feedback ingestion (idempotent, creates users and items) and relations."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient


def event(user: str, item: str, kind: str = "like", **extra: object) -> dict[str, object]:
    return {"user_id": user, "item_id": item, "type": kind, **extra}


def test_same_event_id_twice_is_stored_once(client: TestClient) -> None:
    batch = [event("u1", "i1", event_id="e1"), event("u1", "i2", event_id="e2")]
    assert client.post("/v1/feedback", json=batch).json() == {"accepted": 2, "duplicates": 0}
    retry = [event("u1", "i1", event_id="e1"), event("u1", "i3", event_id="e3")]
    assert client.post("/v1/feedback", json=retry).json() == {"accepted": 1, "duplicates": 1}
    assert client.post("/v1/feedback", json=retry[:1]).json() == {"accepted": 0, "duplicates": 1}
    assert client.app.state.store.feedback.count() == 3  # type: ignore[attr-defined]
    assert client.get("/v1/users/u1/feedback").json()["count"] == 3


def test_events_without_event_id_are_all_stored(client: TestClient) -> None:
    batch = [event("u1", "i1"), event("u1", "i1")]
    assert client.post("/v1/feedback", json=batch).json() == {"accepted": 2, "duplicates": 0}


def test_feedback_creates_unknown_users_and_items(client: TestClient) -> None:
    client.post("/v1/feedback", json=[event("new-user", "new-item", "rating", value=4.5)])
    assert client.get("/v1/users/new-user").status_code == 200
    item = client.get("/v1/items/new-item").json()
    assert item["item_id"] == "new-item" and item["title"] is None


def test_event_fields_and_default_timestamp(client: TestClient) -> None:
    before = time.time()
    client.post(
        "/v1/feedback",
        json=[
            event("u", "a", "play", value=3, session_id="s1", recommendation_id="r1"),
            event("u", "b", "view", timestamp="2024-01-02T03:04:05Z"),
            event("u", "c", "click", timestamp=1_700_000_000),
        ],
    )
    rows = {r["item_id"]: r for r in client.get("/v1/users/u/feedback").json()["data"]}
    assert rows["a"]["value"] == 3.0 and rows["a"]["session_id"] == "s1"
    assert rows["a"]["recommendation_id"] == "r1"
    assert rows["a"]["timestamp"] >= time.strftime("%Y-%m-%dT", time.gmtime(before))
    assert rows["b"]["timestamp"] == "2024-01-02T03:04:05Z"
    assert rows["c"]["timestamp"] == "2023-11-14T22:13:20Z"


def test_feedback_listings_page_newest_first(client: TestClient) -> None:
    for k in range(7):
        client.post("/v1/feedback", json=[event("u", f"i{k}", event_id=f"e{k}")])
    client.post("/v1/feedback", json=[event("other", "i0")])
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/users/u/feedback", params=params).json()
        seen += [r["event_id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"e{k}" for k in reversed(range(7))]

    item_events = client.get("/v1/items/i0/feedback").json()["data"]
    assert [e["user_id"] for e in item_events] == ["other", "u"]
    missing = client.get("/v1/items/nope/feedback")
    assert missing.status_code == 404 and missing.json()["code"] == "item_not_found"


def test_feedback_listings_are_by_event_time_not_arrival(client: TestClient) -> None:
    """Live events first, then an import of older ones: the listing still runs newest
    first by event time, and paging by two crosses the batches without gaps or repeats."""
    live = [
        event("u", "a", event_id="live1", timestamp="2024-05-01T10:00:00Z"),
        event("u", "b", event_id="live2", timestamp="2024-05-02T10:00:00Z"),
    ]
    older = [event("u", "c", event_id="old1", timestamp="2023-01-01T00:00:00Z"),
             event("u", "d", event_id="old2", timestamp="2024-05-01T12:00:00Z"),
             event("u", "e", event_id="old3", timestamp="2022-06-01T00:00:00Z")]  # fmt: skip
    assert client.post("/v1/feedback", json=live).status_code == 200
    assert client.post("/v1/feedback", json=older).status_code == 200
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/users/u/feedback", params=params).json()
        seen += [(r["event_id"], r["timestamp"]) for r in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [e for e, _ in seen] == ["live2", "old2", "live1", "old1", "old3"]
    assert [t for _, t in seen] == sorted((t for _, t in seen), reverse=True)
    stale = client.get("/v1/users/u/feedback", params={"cursor": "MTI"})  # "12": no time
    assert stale.status_code == 400 and stale.json()["code"] == "invalid_cursor"


def test_relations(client: TestClient) -> None:
    rows = [
        {"user_id": "ann", "other_user_id": "ben"},
        {"user_id": "ann", "other_user_id": "cat", "type": "follow"},
        {"user_id": "dan", "other_user_id": "ann", "type": "follow"},
    ]
    assert client.post("/v1/relations", json=rows).json() == {"accepted": 3, "duplicates": 0}
    assert client.post("/v1/relations", json=rows[:1]).json() == {"accepted": 0, "duplicates": 1}
    assert client.get("/v1/users/ben").status_code == 200  # created on the fly
    page = client.get("/v1/users/ann/relations").json()
    assert page["count"] == 3
    pairs = [(r["user_id"], r["other_user_id"], r["type"]) for r in page["data"]]
    assert pairs == [("ann", "ben", "friend"), ("ann", "cat", "follow"), ("dan", "ann", "follow")]
    assert client.get("/v1/users/zed/relations").json()["code"] == "user_not_found"

    selfish = client.post("/v1/relations", json=[{"user_id": "ann", "other_user_id": "ann"}])
    assert selfish.status_code == 422 and selfish.json()["code"] == "self_relation"
