"""Application-level behaviour: probes, OpenAPI, request ids, JSON edge cases, start-up."""

from __future__ import annotations

from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_names_what_is_missing(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "not_ready" and "model" in body["message"]
    assert {"component": "database", "ready": True} in body["details"]


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/v1/items",
        "/v1/items/{item_id}",
        "/v1/users/{user_id}/recommendations",
        "/v1/items/{item_id}/similar",
        "/v1/popular",
        "/v1/feedback",
        "/v1/relations",
        "/health",
        "/ready",
    ):
        assert path in paths
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    error_ref = paths["/v1/items"]["post"]["responses"]["422"]["content"]["application/json"]
    assert error_ref["schema"]["$ref"].endswith("/ErrorBody")
    assert client.get("/docs").status_code == 200


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert (
        client.get("/health", headers={"X-Request-ID": "req-42"}).headers["x-request-id"]
        == "req-42"
    )
    made = client.get("/v1/nope", headers={"X-Request-ID": "bad id\twith tab"})
    assert made.status_code == 404 and len(made.headers["x-request-id"]) == 32


def test_integer_with_too_many_digits(client: TestClient) -> None:
    body = '[{"user_id": "u", "item_id": "i", "type": "rating", "value": ' + "9" * 5000 + "}]"
    response = client.post(
        "/v1/feedback", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_json"


def test_large_exact_integers_and_unicode_round_trip(client: TestClient) -> None:
    item = {"item_id": "ünï-☃-😀", "title": "Ελληνικά", "attributes": {"big": 2**70, "x": [1.5]}}
    assert client.post("/v1/items", json=[item]).status_code == 200
    got = client.get("/v1/items/ünï-☃-😀").json()
    assert got["title"] == "Ελληνικά" and got["attributes"] == {"big": 2**70, "x": [1.5]}


def test_store_is_closed_and_reopened(settings: Settings) -> None:
    with TestClient(create_app(settings)) as first:
        first.post("/v1/users", json=[{"user_id": "kept"}])
    with TestClient(create_app(settings)) as second:
        assert second.get("/v1/users/kept").status_code == 200


def test_settings_are_kept_on_app_state(settings: Settings) -> None:
    app = create_app(settings)
    assert app.state.settings is settings
    with TestClient(app):
        assert app.state.engine.store is app.state.store
