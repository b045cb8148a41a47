"""Items and users: batch upsert, read, patch, delete, cursor paging."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def test_item_crud(client: TestClient) -> None:
    item = {
        "item_id": "book-1",
        "title": "Dune",
        "text": "Desert planet.",
        "categories": ["sf"],
        "tags": ["classic"],
        "attributes": {"pages": 412, "lang": "en"},
        "published_at": "1999-08-01T00:00:00Z",
    }
    assert client.post("/v1/items", json=[item]).json() == {"accepted": 1, "duplicates": 0}

    got = client.get("/v1/items/book-1").json()
    assert got["title"] == "Dune" and got["attributes"] == {"pages": 412, "lang": "en"}
    assert got["published_at"] == "1999-08-01T00:00:00Z" and got["hidden"] is False

    patched = client.patch("/v1/items/book-1", json={"title": "Dune (1999)", "tags": None})
    assert patched.status_code == 200
    body = patched.json()
    assert body["title"] == "Dune (1999)"
    assert body["tags"] == []  # null resets a list
    assert body["text"] == "Desert planet." and body["categories"] == ["sf"]  # untouched

    cleared = client.patch("/v1/items/book-1", json={"text": None}).json()
    assert cleared["text"] is None and cleared["title"] == "Dune (1999)"

    assert client.delete("/v1/items/book-1").status_code == 204
    missing = client.get("/v1/items/book-1")
    assert missing.status_code == 404 and missing.json()["code"] == "item_not_found"
    assert client.delete("/v1/items/book-1").json()["code"] == "item_not_found"


def test_batch_upsert_replaces_and_last_row_wins(client: TestClient) -> None:
    rows = [
        {"item_id": "a", "title": "first", "tags": ["x"]},
        {"item_id": "b", "title": "b"},
        {"item_id": "a", "title": "second"},
    ]
    assert client.post("/v1/items", json=rows).json()["accepted"] == 2
    a = client.get("/v1/items/a").json()
    assert a["title"] == "second" and a["tags"] == []

    # An upsert replaces every field; created_at is kept.
    client.post("/v1/items", json=[{"item_id": "a", "text": "new text"}])
    again = client.get("/v1/items/a").json()
    assert again["title"] is None and again["text"] == "new text"
    assert again["created_at"] == a["created_at"]


def test_user_crud(client: TestClient) -> None:
    users = [{"user_id": "alice", "attributes": {"age": 31}, "tags": ["vip"]}, {"user_id": "bob"}]
    assert client.post("/v1/users", json=users).json() == {"accepted": 2, "duplicates": 0}
    alice = client.get("/v1/users/alice").json()
    assert alice["attributes"] == {"age": 31} and alice["tags"] == ["vip"]

    patched = client.patch("/v1/users/alice", json={"tags": ["vip", "beta"]}).json()
    assert patched["tags"] == ["vip", "beta"] and patched["attributes"] == {"age": 31}
    assert client.patch("/v1/users/alice", json={"attributes": None}).json()["attributes"] == {}

    assert client.patch("/v1/users/nobody", json={"tags": []}).json()["code"] == "user_not_found"
    assert client.delete("/v1/users/alice").status_code == 204
    assert client.get("/v1/users/alice").status_code == 404
    assert client.get("/v1/users/bob").status_code == 200


def test_delete_user_removes_events_and_relations(client: TestClient) -> None:
    client.post("/v1/feedback", json=[{"user_id": "carol", "item_id": "x", "type": "like"}])
    client.post("/v1/relations", json=[{"user_id": "carol", "other_user_id": "dave"}])
    assert client.delete("/v1/users/carol").status_code == 204
    assert client.get("/v1/items/x/feedback").json()["data"] == []
    assert client.get("/v1/users/dave/relations").json()["data"] == []
    assert client.get("/v1/users/carol/feedback").json()["code"] == "user_not_found"


@pytest.mark.parametrize("resource, key", [("items", "item_id"), ("users", "user_id")])
def test_cursor_paging_has_no_gaps_or_duplicates(
    client: TestClient, resource: str, key: str
) -> None:
    ids = [f"{resource}-{i:03d}" for i in range(23)]
    client.post(f"/v1/{resource}", json=[{key: i} for i in reversed(ids)])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/{resource}", params=params).json()
        assert page["count"] == len(page["data"]) <= 5
        seen.extend(row[key] for row in page["data"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 5
    assert seen == sorted(ids)


def test_default_page_size(client: TestClient) -> None:
    client.post("/v1/items", json=[{"item_id": f"i{i:03d}"} for i in range(150)])
    page = client.get("/v1/items").json()
    assert page["count"] == 100 and page["next_cursor"]
    assert client.get("/v1/items", params={"limit": 1000}).json()["count"] == 150
