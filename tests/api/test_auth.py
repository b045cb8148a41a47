"""API keys: scopes read / write / admin, missing and invalid keys, open mode."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

KEYS = [
    {"key": "reader-key-123", "scopes": ["read"], "name": "dashboard"},
    {"key": "writer-key-123", "scopes": ["write"]},
    {"key": "admin-key-1234", "scopes": ["admin"]},
    # Stored as a digest, so the config holds no secret.
    {"key": "sha256:" + hashlib.sha256(b"hashed-key-123").hexdigest(), "scopes": ["read", "write"]},
]
ITEM = [{"item_id": "a"}]


@pytest.fixture
def secured(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(api_keys=KEYS)


def call(client: TestClient, method: str, path: str, key: str | None) -> tuple[int, str | None]:
    headers = {"X-API-Key": key} if key is not None else {}
    kwargs = {"json": ITEM} if method == "POST" else {}
    response = client.request(method, path, headers=headers, **kwargs)
    return response.status_code, response.json().get("code") if response.content else None


def test_open_mode_warns_and_needs_no_key(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="recserve.api"):
        client = make_client()
    assert any("no API keys configured" in r.getMessage() for r in caplog.records)
    assert client.post("/v1/items", json=ITEM).status_code == 200
    assert client.get("/v1/items/a", headers={"X-API-Key": "whatever-123"}).status_code == 200


def test_no_warning_with_keys(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="recserve.api"):
        make_client(api_keys=KEYS)
    assert not any("no API keys" in r.getMessage() for r in caplog.records)


def test_missing_and_invalid_keys(secured: TestClient) -> None:
    assert call(secured, "GET", "/v1/items", None) == (401, "missing_api_key")
    assert call(secured, "GET", "/v1/items", "") == (401, "missing_api_key")
    assert call(secured, "GET", "/v1/items", "not-a-key-at-all") == (401, "invalid_api_key")
    assert call(secured, "POST", "/v1/items", None) == (401, "missing_api_key")
    # The digest itself is not a key.
    digest = KEYS[3]["key"].removeprefix("sha256:")  # type: ignore[union-attr]
    assert call(secured, "GET", "/v1/items", digest) == (401, "invalid_api_key")


def test_open_routes_need_no_key(secured: TestClient) -> None:
    assert secured.get("/health").status_code == 200
    assert secured.get("/ready").json()["code"] == "not_ready"  # not 401
    assert secured.get("/openapi.json").status_code == 200
    assert secured.get("/docs").status_code == 200


def test_read_key_cannot_write(secured: TestClient) -> None:
    key = "reader-key-123"
    assert call(secured, "GET", "/v1/items", key) == (200, None)
    assert call(secured, "POST", "/v1/items", key) == (403, "insufficient_scope")
    assert call(secured, "DELETE", "/v1/items/a", key) == (403, "insufficient_scope")
    assert call(secured, "POST", "/v1/feedback", key) == (403, "insufficient_scope")


def test_write_key_cannot_read(secured: TestClient) -> None:
    key = "writer-key-123"
    assert call(secured, "POST", "/v1/items", key) == (200, None)
    assert call(secured, "GET", "/v1/items/a", key) == (403, "insufficient_scope")
    assert call(secured, "DELETE", "/v1/items/a", key)[0] == 204


@pytest.mark.parametrize("key", ["admin-key-1234", "hashed-key-123"])
def test_admin_and_hashed_keys_do_everything(secured: TestClient, key: str) -> None:
    assert call(secured, "POST", "/v1/items", key) == (200, None)
    assert call(secured, "GET", "/v1/items/a", key) == (200, None)
    assert call(secured, "GET", "/v1/popular", key) == (503, "model_not_ready")
    assert call(secured, "DELETE", "/v1/items/a", key)[0] == 204
