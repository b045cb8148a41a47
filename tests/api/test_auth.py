"""API keys: scopes read / write / admin on every /v1 route, checked before the body is read;
missing and invalid keys; open mode; keys stored hashed and kept out of logs; CORS."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from recserve.api.deps import READ_ONLY_POSTS
from recserve.config import Scope, Settings

try:  # FastAPI >= 0.16x keeps included routers lazily: walk their effective routes
    from fastapi.routing import iter_route_contexts
except ImportError:  # earlier versions: app.routes is already flat

    def iter_route_contexts(routes: Any) -> Any:  # type: ignore[misc]
        return iter(routes)


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


def test_read_key_may_post_the_read_only_scenarios(secured: TestClient) -> None:
    """Ranking a candidate list and a posted session store nothing: reads, sent as POST
    because the id list would not fit a query string."""
    key = "reader-key-123"
    assert call(secured, "POST", "/v1/users/u1/rank", key)[0] not in (401, 403)
    assert call(secured, "POST", "/v1/sessions/recommendations", key)[0] not in (401, 403)
    assert call(secured, "POST", "/v1/users/u1/rank/x", key)[0] != 200
    assert call(secured, "POST", "/v1/users", key) == (403, "insufficient_scope")


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


# every route, checked before the body is read ---------------------------------------------


def v1_routes(app: Any) -> list[tuple[str, str, bool]]:
    """(method, path with its parameters filled, needs admin) for every /v1 route."""
    found = []
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if not path.startswith("/v1"):
            continue
        filled = re.sub(
            r"\{(\w+)(?::\w+)?\}", lambda m: "v0001" if m[1] == "version" else "x1", path
        )
        for method in sorted(route.methods or ()):
            found.append((method, filled, Scope.ADMIN in _scopes_required(route.dependant)))
    return found


def _scopes_required(dependant: Any) -> set[Any]:
    """Scopes named by ``require(scope)`` dependencies anywhere in a route's dependency tree."""
    scopes = set()
    for sub in dependant.dependencies:
        cells = getattr(sub.call, "__closure__", None) or ()
        scopes |= {c.cell_contents for c in cells if isinstance(c.cell_contents, Scope)}
        scopes |= _scopes_required(sub)
    return scopes


def test_every_v1_route_enforces_keys_and_scopes(secured: TestClient) -> None:
    routes = v1_routes(secured.app)
    assert len(routes) >= 30 and any(admin for *_, admin in routes)
    for method, path, admin in routes:
        # A body that is not even JSON: the key check comes first.
        body = {"content": b"{oops", "headers": {"Content-Type": "application/json"}}
        no_key = secured.request(method, path, **body)  # type: ignore[arg-type]
        assert (method, path, no_key.status_code, no_key.json()["code"]) == (
            method,
            path,
            401,
            "missing_api_key",
        )
        reader = secured.request(method, path, **_with_key(body, "reader-key-123"))  # type: ignore[arg-type]
        if (method in ("GET", "HEAD") or READ_ONLY_POSTS.fullmatch(path)) and not admin:
            assert reader.status_code not in (401, 403), (method, path, reader.text)
        else:
            assert (method, path, reader.status_code, reader.json()["code"]) == (
                method,
                path,
                403,
                "insufficient_scope",
            )
        if admin:  # a write key is not enough either
            writer = secured.request(method, path, json={}, headers={"X-API-Key": "writer-key-123"})
            assert (method, path, writer.status_code) == (method, path, 403)


def _with_key(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {**body, "headers": {**body["headers"], "X-API-Key": key}}


def test_key_checked_before_the_body(secured: TestClient) -> None:
    huge = b"[" + b"1," * 40_000 + b"1]"
    response = secured.post("/v1/feedback", content=huge, headers={"Content-Type": "text/plain"})
    assert (response.status_code, response.json()["code"]) == (401, "missing_api_key")


# keys stored hashed ---------------------------------------------------------------------


def test_plain_keys_are_hashed_when_settings_load() -> None:
    settings = Settings(api_keys=KEYS)
    stored = [key.key for key in settings.api_keys]
    assert all(k.startswith("sha256:") and len(k) == 71 for k in stored)
    assert stored[0] == "sha256:" + hashlib.sha256(b"reader-key-123").hexdigest()
    assert stored[3] == KEYS[3]["key"]  # given hashed: kept as is
    dumped = repr(settings) + settings.model_dump_json() + str(settings.api_keys)
    for plain in ("reader-key-123", "writer-key-123", "admin-key-1234"):
        assert plain not in dumped
    with pytest.raises(ValidationError, match="64 hexadecimal"):
        Settings(api_keys=[{"key": "sha256:not-hex-at-all", "scopes": ["read"]}])


def test_keys_never_reach_the_logs(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client = make_client(api_keys=KEYS, log_level="DEBUG")
        for key in ("reader-key-123", "admin-key-1234", "not-a-key-at-all"):
            client.get("/v1/items?x=1", headers={"X-API-Key": key})
            client.post("/v1/items", json=ITEM, headers={"X-API-Key": key})
    text = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert "GET /v1/items" in text  # the access log was captured
    for secret in ("reader-key-123", "admin-key-1234", "not-a-key-at-all"):
        assert secret not in text


# CORS -----------------------------------------------------------------------------------

ORIGIN = "https://shop.example"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "x-api-key, content-type",
}


def test_cors_allowed_origin(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=KEYS, cors_origins=[ORIGIN])
    preflight = client.options("/v1/feedback", headers=PREFLIGHT)  # no key: browsers send none
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    ok = client.get("/v1/items", headers={"Origin": ORIGIN, "X-API-Key": "reader-key-123"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ORIGIN
    assert "X-Request-ID" in ok.headers["access-control-expose-headers"]
    refused = client.get("/v1/items", headers={"Origin": ORIGIN})  # errors carry CORS too
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ORIGIN


def test_cors_other_origins_and_default(make_client: Callable[..., TestClient]) -> None:
    client = make_client(cors_origins=[ORIGIN])
    other = {**PREFLIGHT, "Origin": "https://evil.example"}
    assert "access-control-allow-origin" not in client.options("/v1/items", headers=other).headers
    response = client.get("/v1/items", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    plain = make_client()  # default: no CORS headers at all
    for response in (
        plain.options("/v1/items", headers=PREFLIGHT),
        plain.get("/v1/items", headers={"Origin": ORIGIN}),
    ):
        assert not any(h.startswith("access-control-") for h in response.headers)
