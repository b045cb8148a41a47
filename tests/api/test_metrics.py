"""``GET /metrics`` through the real app: route-template labels, counts, events ingested,
models served, training durations, and the ``metrics_public`` switch."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from recserve.api import create_app
from recserve.api.deps import get_store
from recserve.config import Settings
from recserve.observability import observe_job_results, observe_training
from tests.api.conftest import synthetic_events, train, user_id

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

ADMIN = {"key": "admin-key-0123456789", "scopes": ["admin"]}
READER = {"key": "reader-key-0123456789", "scopes": ["read"]}


def scrape(client: TestClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def requests_count(samples: Samples, method: str, route: str, status: int) -> float:
    labels = frozenset({"method": method, "route": route, "status": str(status)}.items())
    return samples.get(("recserve_http_request_duration_seconds_count", labels), 0.0)


def test_latency_is_labelled_by_route_template_method_and_status(client: TestClient) -> None:
    for user in ("alice", "bob", "carol"):
        assert client.get(f"/v1/users/{user}").status_code == 404
    assert client.post("/v1/items", json=[{"item_id": "sku-1"}]).status_code == 200
    assert client.get("/v1/items/sku-1").status_code == 200
    assert client.get("/v1/users/alice/recommendations").status_code == 503  # no model yet
    assert client.get("/no/such/page").status_code == 404

    samples = scrape(client)
    assert requests_count(samples, "GET", "/v1/users/{user_id}", 404) == 3
    assert requests_count(samples, "GET", "/v1/items/{item_id}", 200) == 1
    assert requests_count(samples, "GET", "/v1/users/{user_id}/recommendations", 503) == 1
    assert requests_count(samples, "GET", "<unmatched>", 404) == 1
    routes = {dict(labels).get("route") for _, labels in samples}
    assert not any(r and ("alice" in r or "sku-1" in r or "/no/such" in r) for r in routes)
    # the histogram has buckets and a sum for the same labels
    key = frozenset({"method": "GET", "route": "/v1/users/{user_id}", "status": "404"}.items())
    assert samples[("recserve_http_request_duration_seconds_sum", key)] > 0
    # the scrape itself is the one request in flight
    assert samples[("recserve_http_requests_in_flight", frozenset())] == 1


def test_events_ingested_by_outcome(client: TestClient) -> None:
    events = [
        {"event_id": f"e{i}", "user_id": "u1", "item_id": f"i{i}", "type": "like"} for i in range(5)
    ]
    assert client.post("/v1/feedback", json=events).json() == {"accepted": 5, "duplicates": 0}
    answer = client.post("/v1/feedback", json=[*events[:3], {**events[0], "event_id": "e9"}])
    assert answer.json() == {"accepted": 1, "duplicates": 3}
    bad = client.post("/v1/feedback", json=[{"user_id": "u1", "item_id": "i1", "type": "nope"}])
    assert bad.status_code == 422

    samples = scrape(client)
    ingested = {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples.items()
        if name == "recserve_events_ingested_total"
    }
    assert ingested == {"stored": 6, "duplicate": 3}
    assert requests_count(samples, "POST", "/v1/feedback", 200) == 2
    assert requests_count(samples, "POST", "/v1/feedback", 422) == 1


def test_rejected_bodies_are_counted_too(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_request_bytes=2048)
    response = client.post("/v1/feedback", content=b"[" + b" " * 4096 + b"]",
                           headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    samples = scrape(client)
    assert (
        sum(
            v
            for (name, labels), v in samples.items()
            if name == "recserve_http_request_duration_seconds_count"
            and dict(labels)["status"] == "413"
        )
        == 1
    )


def test_models_served_per_scenario(trained_client: TestClient) -> None:
    served = trained_client.get("/ready").json()["models"]
    samples = scrape(trained_client)
    gauge = {
        dict(labels)["scenario"]: dict(labels)["model"]
        for (name, labels), value in samples.items()
        if name == "recserve_model_served" and value == 1
    }
    assert gauge == served and "recommended" in gauge
    assert samples[("recserve_scenarios_served", frozenset())] == len(served)


def test_history_cache_hits_and_misses(trained_client: TestClient) -> None:
    """The first request of a user reads their history (a miss), the next is a hit; a
    posted event invalidates it, so the request after that misses again."""

    def lookups() -> tuple[float, float]:
        samples = scrape(trained_client)
        key = "recserve_cache_lookups_total"
        return (
            samples.get((key, frozenset({"cache": "history", "result": "hit"}.items())), -1.0),
            samples.get((key, frozenset({"cache": "history", "result": "miss"}.items())), -1.0),
        )

    hits, misses = lookups()
    assert hits >= 0 and misses >= 0
    path = "/v1/users/u03/recommendations"
    assert trained_client.get(path).status_code == 200
    assert trained_client.get(path).status_code == 200
    assert lookups() == (hits + 1, misses + 1)
    like = [{"user_id": "u03", "item_id": "i05", "type": "like"}]
    assert trained_client.post("/v1/feedback", json=like).status_code == 200
    assert trained_client.get(path).status_code == 200
    assert lookups() == (hits + 1, misses + 2)


def test_history_cache_stays_bounded_and_reports_its_size(
    make_client: Callable[..., TestClient],
) -> None:
    """With room for 3 users, the least recently used ones are evicted: /metrics shows 3
    entries, the bound and the evictions, and evicted users get the same answers as before
    (read again from the store) as a server that caches everyone."""
    small = make_client(history_cache_users=3)
    assert small.post("/v1/feedback", json=synthetic_events()).status_code == 200
    train(small.app)  # type: ignore[arg-type]
    roomy = make_client(history_cache_users=1000)
    roomy.app.state.engine.refresh()  # type: ignore[attr-defined]
    users = [user_id(u) for u in range(8)]

    def answers(client: TestClient) -> list[list[str]]:
        paths = [f"/v1/users/{u}/recommendations?n=5" for u in users]
        return [[e["item_id"] for e in client.get(p).json()["items"]] for p in paths]

    first = answers(small)
    again = answers(small)  # every user was evicted before their turn came again
    assert first == again == answers(roomy)
    samples = scrape(small)
    history = frozenset({"cache": "history"}.items())
    assert samples[("recserve_cache_entries", history)] == 3
    assert samples[("recserve_cache_capacity", history)] == 3
    assert samples[("recserve_cache_evictions_total", history)] == 2 * len(users) - 3
    assert scrape(roomy)[("recserve_cache_entries", history)] == len(users)


def test_training_durations(client: TestClient) -> None:
    def fits(samples: Samples, family: str) -> float:
        key = ("recserve_training_seconds_count", frozenset({"family": family}.items()))
        return samples.get(key, 0.0)

    before = scrape(client)
    observe_training("test_family_a", 2.5)
    recorded = observe_job_results(
        {
            "models": {
                "m1": {"family": "test_family_a", "fit_seconds": 0.5, "refit_seconds": 0.7},
                "m2": {"family": "test_family_b", "fit_seconds": 12.0},
                "broken": {"fit_seconds": 1.0},
            }
        }
    )
    assert recorded == 3
    after = scrape(client)
    assert fits(after, "test_family_a") - fits(before, "test_family_a") == 3
    assert fits(after, "test_family_b") - fits(before, "test_family_b") == 1


def test_metrics_are_public_by_default_even_with_keys(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(api_keys=[ADMIN, READER])
    assert client.get("/v1/items").status_code == 401  # the API itself stays closed
    assert client.get("/metrics").status_code == 200


def test_private_metrics_need_an_admin_key(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=[ADMIN, READER], metrics_public=False)
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.json()["code"] == "missing_api_key"
    wrong = client.get("/metrics", headers={"X-API-Key": "not-a-key-at-all"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_api_key"
    reader = client.get("/metrics", headers={"X-API-Key": READER["key"]})
    assert reader.status_code == 403 and reader.json()["code"] == "insufficient_scope"
    scrape(client, **{"X-API-Key": ADMIN["key"]})


def test_a_crash_is_counted_as_500(settings: Settings) -> None:
    app = create_app(settings)

    def broken_store() -> None:
        raise RuntimeError("the database went away")

    app.dependency_overrides[get_store] = broken_store
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/v1/users/u1").status_code == 500
        samples = scrape(client)
    assert requests_count(samples, "GET", "/v1/users/{user_id}", 500) == 1
    assert samples[("recserve_http_requests_in_flight", frozenset())] == 1  # only the scrape
