"""Popular before the first training (serving/untrained.py), through HTTP on SQLite and
PostgreSQL: counted from the store's events, fresh after each write, the user's seen and
hidden items left out, and the trained champion taking over once promoted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.api.routes.recommendations import in_memory
from recserve.config import Settings
from recserve.serving.options import ListOptions
from tests.api.conftest import make_client, train
from tests.api.test_fast_lane import counting_engine
from tests.api.test_scenarios import serve

__all__ = ["make_client"]  # the fixture, shared with the API tests

UNTRAINED = "live_counts/untrained"


def likes(item: str, users: range, kind: str = "like") -> list[dict[str, Any]]:
    return [{"user_id": f"fan{u}", "item_id": item, "type": kind} for u in users]


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, model_poll_seconds=0)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def post(client: TestClient, events: list[dict[str, Any]]) -> None:
    assert client.post("/v1/feedback", json=events).status_code == 200


def popular(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/popular", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ids(body: dict[str, Any]) -> list[str]:
    return [e["item_id"] for e in body["items"]]


def test_popular_answers_from_counted_events_before_training(client: TestClient) -> None:
    post(client, likes("a", range(5)) + likes("b", range(3)) + likes("c", range(1)))
    post(client, likes("a", range(5)))  # the same users again: distinct users count
    post(client, likes("d", range(9), kind="dislike") + likes("e", range(4), kind="view"))
    body = popular(client, n=10)
    assert body["model"] == UNTRAINED
    assert ids(body) == ["a", "b", "c"], "negative and read events are not votes"
    assert [e["score"] for e in body["items"]] == [5.0, 3.0, 1.0]
    assert body["reason"] == "no_more_items", "fewer items have a vote than asked"
    assert client.get("/ready").status_code == 503, "still not ready: nothing is trained"

    post(client, likes("c", range(10, 20)))  # the next answer counts them
    assert ids(popular(client, n=2)) == ["c", "a"]
    assert popular(client, n=2)["reason"] is None


def test_recommendations_before_training_are_popular_without_what_the_user_saw(
    client: TestClient,
) -> None:
    post(client, likes("a", range(5)) + likes("b", range(3)) + likes("c", range(2)))
    seen = client.get("/v1/users/fan0/recommendations", params={"n": 5}).json()
    assert seen["model"] == UNTRAINED and ids(seen) == []  # fan0 liked all three
    assert seen["reason"] == "filtered"
    for body in (
        client.get("/v1/users/fan4/recommendations", params={"n": 5, "explain": True}).json(),
        popular(client, n=5, user_id="fan4", explain=True),
    ):
        assert body["model"] == UNTRAINED
        assert ids(body) == ["b", "c"], "fan4 liked a"
        assert body["items"][0]["explanation"]["reason"] == "popular"
    stranger = client.get("/v1/users/nobody/recommendations", params={"n": 2}).json()
    assert ids(stranger) == ["a", "b"]
    ranked = client.post("/v1/users/fan4/rank", json={"item_ids": ["c", "b"]}).json()
    assert ranked["model"] == UNTRAINED and [e["item_id"] for e in ranked["items"]] == ["b", "c"]


def test_hidden_items_filters_and_other_writers(client: TestClient) -> None:
    items = [{"item_id": i, "categories": [c]} for i, c in (("a", "x"), ("b", "y"), ("c", "x"))]
    assert client.post("/v1/items", json=items).status_code == 200
    post(client, likes("a", range(5)) + likes("b", range(3)) + likes("c", range(2)))
    assert ids(popular(client, category="x")) == ["a", "c"]
    assert client.patch("/v1/items/a", json={"hidden": True}).status_code == 200
    assert ids(popular(client)) == ["b", "c"]
    # events stored by another process (a replica, `recserve import`) are read again after
    # refresh_seconds (held long here, so a slow machine does not reach it before asked to)
    state: Any = client.app.state  # type: ignore[attr-defined]
    state.engine.untrained_popular.refresh_seconds = 3600.0
    state.store.feedback.add([{**e, "timestamp": 1.7e9} for e in likes("z", range(30, 40))])
    assert "z" not in ids(popular(client))
    state.engine.untrained_popular.refresh_seconds = 0.0
    assert ids(popular(client))[0] == "z"


def test_the_trained_champion_takes_over(client: TestClient) -> None:
    post(client, likes("a", range(5)) + likes("b", range(3)))
    assert popular(client)["model"] == UNTRAINED
    train(client.app)  # type: ignore[arg-type]
    body = popular(client, n=2)
    assert body["model"].startswith("popular/") and ids(body) == ["a", "b"]
    post(client, likes("b", range(10, 20)))  # live counters of the champion from now on
    assert ids(popular(client, n=2)) == ["b", "a"]


def test_without_any_positive_event_popular_is_still_not_ready(client: TestClient) -> None:
    post(client, likes("d", range(3), kind="dislike"))
    for path in ("/v1/popular", "/v1/users/fan0/recommendations"):
        response = client.get(path)
        assert response.status_code == 503 and response.json()["code"] == "model_not_ready"
    trending = client.get("/v1/trending")  # trending and latest need a trained model
    assert trending.status_code == 503 and trending.json()["code"] == "model_not_ready"


def test_the_fast_lane_reads_it_in_the_thread_pool(make_client: Callable[..., TestClient]) -> None:
    """Counting reads the store, so it never runs on the event loop: without a champion
    ``in_memory`` is False and the lane answers in the thread pool; bodies match."""
    fast = make_client()
    post(fast, likes("a", range(5)) + likes("b", range(3)))
    slow = make_client(fast_lane=False)
    calls = counting_engine(fast)
    for url in ("/v1/popular?n=3", "/v1/popular?user_id=fan4", "/v1/users/fan4/recommendations"):
        a, b = fast.get(url), slow.get(url)
        assert a.status_code == b.status_code == 200
        one, other = a.json(), b.json()
        one.pop("recommendation_id"), other.pop("recommendation_id")
        assert one == other and one["model"] == UNTRAINED, url
    engine = fast.app.state.engine  # type: ignore[attr-defined]
    assert not in_memory(engine, None, ListOptions(n=3), "popular")
    assert calls[0] == 0, "the lane answered (in the thread pool), not FastAPI's route"


def test_a_cold_user_falls_back_to_counted_popular_without_a_popular_champion(
    client: TestClient,
) -> None:
    """recommended is trained, popular is not (``recserve train --models item_knn``)."""
    post(client, likes("a", range(5)) + likes("b", range(3)) + likes("c", range(2)))
    serve(client, "item_knn", "item_knn", ("recommended",))
    known = client.get("/v1/users/fan4/recommendations", params={"n": 2}).json()
    assert known["model"].startswith("item_knn/")
    cold = client.get("/v1/users/stranger/recommendations", params={"n": 2}).json()
    assert cold["model"] == UNTRAINED and ids(cold) == ["a", "b"]
    ranked = client.post("/v1/users/stranger/rank", json={"item_ids": ["x", "c", "a"]})
    assert ranked.status_code == 200, ranked.text
    body = ranked.json()
    assert body["model"] == UNTRAINED
    assert [(e["item_id"], e["score"]) for e in body["items"]] == [
        ("a", 5.0),
        ("c", 2.0),
        ("x", None),
    ]
