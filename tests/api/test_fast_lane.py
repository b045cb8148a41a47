"""The fast lane (api/fast_lane.py): the plain hot reads it answers get the body FastAPI's route
gives, everything else (errors included) still goes through FastAPI, and the middlewares
(keys, request ids, metrics) apply to it as to any route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recserve.api import fast_lane
from recserve.api.deps import get_engine
from recserve.api.fast_lane import simple_options
from recserve.serving import ListOptions
from tests.api.conftest import synthetic_events, train, user_id

# plain requests the lane takes (query strings)
SIMPLE = [
    "",
    "n=3",
    "n=5&offset=2",
    "offset=40",
    "n=4&exclude_seen=false",
    "n=4&exclude_seen=0",
    "explain=true&n=3",
    "explain=1",
    "include=i00&include=i01&include=i05&include=i11&include=nope",
    "exclude=i02&exclude=i03&n=6",
    "n=1000",
]
# requests the lane leaves to FastAPI: anything but plain values of its parameters
DECLINED = [
    "n=0",
    "n=1001",
    "n=abc",
    "n=+5",
    "n= 5",
    "n=5&n=6",
    "offset=-1",
    "offset=10001",
    "exclude_seen=maybe",
    "exclude_seen=yes",  # valid for FastAPI, but not a spelling the lane reads
    "explain=",
    "include=",
    "category=x",
    "filter=price%20%3C%2020",
    "diversity=0.5",
    "pin=i01:1",
    "unknown=1",
]


@pytest.fixture
def pair(make_client: Callable[..., TestClient]) -> tuple[TestClient, TestClient]:
    """Two apps over one data folder and its trained models: lane on, lane off."""
    fast = make_client()
    assert fast.post("/v1/feedback", json=synthetic_events()).status_code == 200
    train(fast.app)  # type: ignore[arg-type]
    slow = make_client(fast_lane=False)
    slow.app.state.engine.refresh()  # type: ignore[attr-defined]
    # Deletion marks older than engine.forgotten.reload_seconds (2 s) send a request through
    # FastAPI to re-read them; on a loaded machine a test's requests can span that long.
    fast.app.state.engine.forgotten.reload_seconds = 3600  # type: ignore[attr-defined]
    return fast, slow


def counting_engine(client: TestClient) -> list[int]:
    """Counts FastAPI's resolutions of the engine dependency (the lane resolves none)."""
    app: Any = client.app
    engine = app.state.engine
    calls = [0]

    async def counted() -> Any:
        calls[0] += 1
        return engine

    app.dependency_overrides[get_engine] = counted
    return calls


def without_id(response: Any) -> dict[str, Any]:
    body = response.json()
    assert len(body.pop("recommendation_id")) == 32
    return body


@pytest.mark.parametrize("query", SIMPLE)
def test_the_lane_answers_plain_requests_as_the_route_does(
    pair: tuple[TestClient, TestClient], query: str
) -> None:
    fast, slow = pair
    paths = (
        f"/v1/users/{user_id(3)}/recommendations",
        "/v1/users/never-seen/recommendations",
        "/v1/popular",
        f"/v1/popular?user_id={user_id(3)}",
    )
    urls = [path + ("&" if "?" in path else "?") + query for path in paths]
    calls = counting_engine(fast)
    for url in urls * 2:  # a user's first request reads the history; the next is cached
        a, b = fast.get(url), slow.get(url)
        assert a.status_code == b.status_code == 200, (url, a.text, b.text)
        assert without_id(a) == without_id(b), url
        assert a.headers["content-type"] == b.headers["content-type"] == "application/json"
        assert int(a.headers["content-length"]) == len(a.content)
    assert calls[0] == 0  # every one came through the lane, none through FastAPI


@pytest.mark.parametrize("query", DECLINED)
def test_the_lane_leaves_everything_else_to_fastapi(
    pair: tuple[TestClient, TestClient], query: str
) -> None:
    fast, slow = pair
    url = f"/v1/users/{user_id(3)}/recommendations?{query}"
    slow.get(url), fast.get(url)  # histories cached
    calls = counting_engine(fast)
    a, b = fast.get(url), slow.get(url)
    assert calls[0] == 1  # FastAPI answered
    assert a.status_code == b.status_code, (query, a.text, b.text)
    if a.status_code == 200:
        assert without_id(a) == without_id(b)
    else:
        assert a.json() == b.json()


def test_ids_the_lane_does_not_take_go_to_fastapi(pair: tuple[TestClient, TestClient]) -> None:
    fast, _ = pair
    calls = counting_engine(fast)
    long_id = "u" * 257
    assert fast.get(f"/v1/users/{long_id}/recommendations").status_code == 422
    assert fast.get("/v1/users/a%01b/recommendations").status_code == 422
    assert fast.get("/v1/popular?user_id=" + long_id).status_code == 422
    assert calls[0] == 3


def test_an_uncached_history_is_read_and_served_by_the_lane(
    pair: tuple[TestClient, TestClient],
) -> None:
    fast, slow = pair
    calls = counting_engine(fast)
    url = f"/v1/users/{user_id(5)}/recommendations?n=4"
    assert not fast.app.state.engine.history_cached(user_id(5), "recommended")  # type: ignore[attr-defined]
    first = fast.get(url)
    assert calls[0] == 0  # the store was read by the lane, without FastAPI
    assert fast.app.state.engine.history_cached(user_id(5), "recommended")  # type: ignore[attr-defined]
    second = fast.get(url)
    assert calls[0] == 0  # cached now: the lane, on the event loop
    assert without_id(first) == without_id(second) == without_id(slow.get(url))
    # an event drops the cached history: the next answer reads it again, and changes
    top = first.json()["items"][0]["item_id"]
    event = {"user_id": user_id(5), "item_id": top, "type": "like"}
    assert fast.post("/v1/feedback", json=[event]).status_code == 200
    after = fast.get(url)
    assert top not in [e["item_id"] for e in after.json()["items"]]


def test_a_first_request_on_sqlite_is_read_on_the_event_loop_and_survives_a_store_error(
    pair: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded store's history read is one local query: answered inline, without the
    thread pool hop; a store error there still gets an answer (the trained state)."""
    fast, slow = pair
    hops = [0]
    real = fast_lane.run_in_threadpool

    async def counted(function: Any) -> Any:
        hops[0] += 1
        return await real(function)

    monkeypatch.setattr(fast_lane, "run_in_threadpool", counted)
    calls = counting_engine(fast)
    engine: Any = fast.app.state.engine  # type: ignore[attr-defined]
    assert engine.store.dialect == "sqlite"
    url = f"/v1/users/{user_id(6)}/recommendations?n=4"
    assert not engine.history_cached(user_id(6), "recommended")
    first = fast.get(url)
    assert first.status_code == 200 and calls[0] == 0 and hops[0] == 0
    assert engine.history_cached(user_id(6), "recommended")
    assert without_id(first) == without_id(slow.get(url))
    with engine.store.engine.begin() as connection:  # the events table goes away
        connection.exec_driver_sql("ALTER TABLE events RENAME TO events_away")
    try:
        fallbacks = engine.histories_reader.fallbacks
        answer = fast.get(f"/v1/users/{user_id(7)}/recommendations?n=4")
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["items"]) == 4  # from the user's trained state
        assert engine.histories_reader.fallbacks == fallbacks + 1 and hops[0] == 0
    finally:
        with engine.store.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE events_away RENAME TO events")


def test_no_model_yet_is_fastapis_503(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    for url in ("/v1/users/u1/recommendations", "/v1/popular"):
        response = client.get(url)
        assert response.status_code == 503 and response.json()["code"] == "model_not_ready"


def test_middlewares_apply_to_the_lane(make_client: Callable[..., TestClient]) -> None:
    keys = [{"key": "reader-key-123", "scopes": ["read"]}]
    client = make_client(api_keys=keys)
    state: Any = client.app.state
    state.store.feedback.add(synthetic_events())
    train(client.app)  # type: ignore[arg-type]
    url = f"/v1/users/{user_id(2)}/recommendations?n=3"
    assert client.get(url).status_code == 401
    headers = {"X-API-Key": "reader-key-123", "X-Request-ID": "trace-me-1"}
    client.get(url, headers=headers)
    calls = counting_engine(client)
    response = client.get(url, headers=headers)
    assert response.status_code == 200 and calls[0] == 0
    assert response.headers["x-request-id"] == "trace-me-1"
    metrics = client.get("/metrics").text
    line = next(
        row
        for row in metrics.splitlines()
        if row.startswith("recserve_http_request_duration_seconds_count")
        and 'route="/v1/users/{user_id}/recommendations"' in row
        and 'status="200"' in row
    )
    assert float(line.rsplit(" ", 1)[1]) == 2


def test_simple_options_reads_what_fastapi_reads() -> None:
    parsed = simple_options(
        "n=7&offset=3&exclude_seen=false&explain=1&exclude=a&exclude=b", 50, False
    )
    assert parsed == (
        ListOptions(n=7, offset=3, exclude_seen=False, explain=True, exclude=("a", "b")),
        None,
    )
    assert simple_options("user_id=u1", 50, True) == (ListOptions(), "u1")
    assert simple_options("user_id=u1", 50, False) is None  # not a parameter of that route
    assert simple_options("n=51", 50, False) is None  # above max_n: FastAPI's 422
    assert simple_options("include=" + "&include=".join(["x"] * 1001), 50, False) is None
