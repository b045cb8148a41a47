"""A short or empty list says why (serving/reasons.py), through HTTP on the taste blocks of
tests/api/test_scenarios.py (item_knn for recommended and similar items, popular)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from recserve.serving import reasons
from tests.api.test_scenarios import get, ids, populate


@pytest.fixture
def world(client: TestClient) -> TestClient:
    return populate(client)


def test_a_full_list_has_no_reason(world: TestClient) -> None:
    for path in ("/v1/users/u00/recommendations", "/v1/popular", "/v1/items/i00/similar"):
        assert get(world, path, n=3)["reason"] is None, path


def test_filters_that_leave_fewer_items_say_filtered(world: TestClient) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("/v1/users/u00/recommendations", {"include": ["i05", "i06"], "n": 5}),
        ("/v1/users/u00/recommendations", {"category": "no-such-genre"}),
        ("/v1/popular", {"filter": "price >= 9", "n": 5}),
        ("/v1/items/i00/similar", {"exclude": [f"i0{k}" for k in range(1, 10)], "n": 5}),
    ]
    for path, params in cases:
        body = get(world, path, **params)
        assert len(body["items"]) < params.get("n", 10), (path, params)
        assert body["reason"] == reasons.FILTERED, (path, params, body["reason"])
    # a pin that fills the page: full, so no reason
    pinned = get(world, "/v1/users/u00/recommendations", include=["i05"], pin="i21:2", n=2)
    assert ids(pinned) == ["i05", "i21"] and pinned["reason"] is None


def test_a_ranking_that_runs_out_says_no_more_items(world: TestClient) -> None:
    past_the_end = get(world, "/v1/popular", offset=100, n=5)
    assert past_the_end["items"] == [] and past_the_end["reason"] == reasons.NO_MORE_ITEMS
    # item_knn knows only the items liked with i00 (its block): fewer than 25 neighbours
    neighbours = get(world, "/v1/items/i00/similar", n=25)
    assert 0 < len(neighbours["items"]) < 25
    assert neighbours["reason"] == reasons.NO_MORE_ITEMS
    # the user's seen items left out: filtered, since they were candidates
    seen = get(world, "/v1/users/u00/recommendations", n=100)
    assert seen["reason"] == reasons.FILTERED
    kept = get(world, "/v1/users/u00/recommendations", n=100, exclude_seen=False)
    assert len(kept["items"]) > len(seen["items"])


def test_because_you_liked_without_history_says_no_history(world: TestClient) -> None:
    body = get(world, "/v1/users/never-seen/because-you-liked")
    assert body["groups"] == [] and body["reason"] == reasons.NO_HISTORY
    liked = get(world, "/v1/users/u00/because-you-liked", anchors=1, n=2)
    assert len(liked["groups"]) == 1 and liked["reason"] is None
    assert liked["groups"][0]["reason"] is None
    short = get(world, "/v1/users/u00/because-you-liked", anchors=1, n=3, category="genre-9")
    assert short["groups"][0]["items"] == [] and short["groups"][0]["reason"] == "filtered"

    # an item shown under the first anchor is not repeated under the second, which is left
    # with none of its neighbours
    crowded = get(world, "/v1/users/u00/because-you-liked", anchors=2, n=3)
    assert [g["reason"] for g in crowded["groups"]] == [None, reasons.FILTERED]


def test_the_openapi_document_describes_the_reason(world: TestClient) -> None:
    schemas = world.get("/openapi.json").json()["components"]["schemas"]
    described = schemas["ListResponse"]["properties"]["reason"]["description"]
    assert all(code in described for code in reasons.ALL)
