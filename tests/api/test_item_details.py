"""Item details in list responses (``fields=``), through HTTP on SQLite and PostgreSQL.

Every endpoint that lists items takes ``fields``; each entry then carries the named stored
fields as ``details``, read for the whole response in one store query. Unknown names are
422 ``invalid_fields``; the fast lane leaves such requests to FastAPI, so bodies match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings
from tests.api.conftest import BLOCKS, ITEMS_PER_BLOCK, item_id, synthetic_events, train

FIELDS = ["title", "categories", "tags", "attributes", "published_at", "text"]


def catalogue() -> list[dict[str, Any]]:
    return [
        {
            "item_id": item_id(i),
            "title": f"Title {i}",
            "text": f"About item {i}",
            "categories": [f"genre-{i // ITEMS_PER_BLOCK}"],
            "tags": [f"tag{i % 3}", "shop"],
            "attributes": {"price": i, "colour": "red" if i % 2 else "blue"},
            "published_at": 1_500_000_000 + i * 86_400,
        }
        for i in range(BLOCKS * ITEMS_PER_BLOCK)
    ]


def expected(item: str, fields: list[str]) -> dict[str, Any]:
    """The details the API should give for ``item``, from its own item endpoint."""
    return {name: STORED[item][name] for name in fields}


STORED: dict[str, dict[str, Any]] = {}


@pytest.fixture
def shop(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, model_poll_seconds=0)
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/items", json=catalogue()).status_code == 200
        events = synthetic_events()
        for k, event in enumerate(events[:6]):
            event["session_id"] = "s1"
            event["timestamp"] = 1_600_000_000 + k
        assert client.post("/v1/feedback", json=events).status_code == 200
        train(client.app)  # type: ignore[arg-type]
        STORED.clear()
        for row in client.get("/v1/items", params={"limit": 1000}).json()["data"]:
            STORED[row["item_id"]] = row
        yield client


# (method, path, query, body): every endpoint that answers a list of items
LISTS: list[tuple[str, str, dict[str, Any], Any]] = [
    ("GET", "/v1/users/u00/recommendations", {}, None),
    ("GET", "/v1/users/never-seen/recommendations", {}, None),
    ("GET", "/v1/popular", {"user_id": "u00"}, None),
    ("GET", "/v1/trending", {}, None),
    ("GET", "/v1/latest", {}, None),
    ("GET", "/v1/items/i00/similar", {}, None),
    ("GET", "/v1/items/i00/bought-together", {}, None),
    ("GET", "/v1/sessions/s1/recommendations", {}, None),
    ("POST", "/v1/sessions/recommendations", {}, {"item_ids": ["i00", "i01"]}),
]


def entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "groups" in body:
        return [e for group in body["groups"] for e in group["items"]]
    return body["items"]


def count_item_reads(client: TestClient) -> list[str]:
    """Every SQL statement that reads the items table from now on."""
    engine: sa.Engine = client.app.state.store.items.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM items" in statement:
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    return seen


@pytest.mark.parametrize(("method", "path", "query", "body"), LISTS)
def test_every_list_carries_the_named_fields_read_in_one_query(
    shop: TestClient, method: str, path: str, query: dict[str, Any], body: Any
) -> None:
    reads = count_item_reads(shop)
    plain = shop.request(method, path, params={**query, "n": 8}, json=body)
    assert plain.status_code == 200, plain.text
    assert all(e["details"] is None for e in entries(plain.json()))
    without = len(reads)  # e.g. the similar-items route checks that the item exists

    params = {**query, "n": 8, "fields": "title,categories,tags"}
    response = shop.request(method, path, params=params, json=body)
    assert response.status_code == 200, response.text
    listed = entries(response.json())
    assert len(listed) > 1, "a list to describe"
    # one more query for the whole response, not one per item
    assert len(reads) - 2 * without == 1, reads
    for entry in listed:
        assert entry["details"] == expected(entry["item_id"], ["title", "categories", "tags"])


def test_because_you_liked_reads_every_group_in_one_query(shop: TestClient) -> None:
    reads = count_item_reads(shop)
    response = shop.get(
        "/v1/users/u00/because-you-liked", params={"anchors": 3, "n": 4, "fields": "title"}
    )
    assert response.status_code == 200, response.text
    groups = response.json()["groups"]
    assert len(groups) == 3 and len(reads) == 1
    for group in groups:
        for entry in group["items"]:
            assert entry["details"] == {"title": STORED[entry["item_id"]]["title"]}


def test_rank_carries_the_named_fields(shop: TestClient) -> None:
    response = shop.post(
        "/v1/users/u00/rank",
        params={"fields": "attributes,published_at"},
        json={"item_ids": ["i05", "i21", "nope"]},
    )
    assert response.status_code == 200, response.text
    details = {e["item_id"]: e["details"] for e in response.json()["items"]}
    assert details["i05"] == expected("i05", ["attributes", "published_at"])
    assert details["i21"] == expected("i21", ["attributes", "published_at"])
    assert details["nope"] is None  # no such item: nothing to describe


def test_every_field_and_only_the_named_ones(shop: TestClient) -> None:
    everything = ",".join([*FIELDS, "created_at", "updated_at"])
    entry = shop.get("/v1/popular", params={"n": 1, "fields": everything}).json()["items"][0]
    stored = STORED[entry["item_id"]]
    assert entry["details"] == {k: stored[k] for k in [*FIELDS, "created_at", "updated_at"]}
    one = shop.get("/v1/popular", params={"n": 1, "fields": " text , text,"}).json()
    assert one["items"][0]["details"] == {"text": stored["text"]}


@pytest.mark.parametrize("value", ["title,price", "hidden", "item_id", "", ",", "TITLE"])
def test_unknown_fields_are_a_clear_422(shop: TestClient, value: str) -> None:
    for path in ("/v1/users/u00/recommendations", "/v1/popular", "/v1/items/i00/similar"):
        response = shop.get(path, params={"fields": value})
        assert response.status_code == 422, (path, response.text)
        body = response.json()
        assert body["code"] == "invalid_fields"
        assert "title" in body["message"], "the message lists the known fields"
        assert body["details"][0]["loc"] == ["query", "fields"]
    rank = shop.post("/v1/users/u00/rank", params={"fields": value}, json={"item_ids": ["i00"]})
    assert rank.status_code == 422 and rank.json()["code"] == "invalid_fields"


def test_the_fast_lane_and_the_route_give_the_same_body(
    make_client: Callable[..., TestClient],
) -> None:
    fast = make_client()
    assert fast.post("/v1/items", json=catalogue()).status_code == 200
    assert fast.post("/v1/feedback", json=synthetic_events()).status_code == 200
    train(fast.app)  # type: ignore[arg-type]
    slow = make_client(fast_lane=False)
    slow.app.state.engine.refresh()  # type: ignore[attr-defined]
    for url in (
        "/v1/users/u03/recommendations?n=5&fields=title,tags",
        "/v1/popular?n=5&fields=categories&user_id=u03",
        "/v1/popular?n=5&fields=title",
    ):
        fast.get(url), slow.get(url)  # histories cached: the plain requests would take the lane
        a, b = fast.get(url), slow.get(url)
        assert a.status_code == b.status_code == 200
        one, other = a.json(), b.json()
        one.pop("recommendation_id"), other.pop("recommendation_id")
        assert one == other, url
        assert all(e["details"] for e in one["items"])
