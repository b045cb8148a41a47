"""A table of bad inputs: each gets a 4xx JSON error with a stable code, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings

MAX_BYTES = 4096
MAX_BATCH = 5
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def strict_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One client for the whole table (failed requests change nothing), with small limits."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("bad-input"),
        model_poll_seconds=0,
        max_request_bytes=MAX_BYTES,
        max_batch_size=MAX_BATCH,
    )
    with TestClient(create_app(settings)) as client:
        client.post("/v1/items", json=[{"item_id": "known"}])
        client.post("/v1/users", json=[{"user_id": "known"}])
        yield client


def ev(**fields: Any) -> list[dict[str, Any]]:
    return [{"user_id": "u", "item_id": "i", "type": "like", **fields}]


def raw(text: str | bytes) -> bytes:
    return text.encode() if isinstance(text, str) else text


def raw_event(kind: str, fragment: str) -> bytes:
    """One event as JSON text with ``fragment`` (say ``"value": NaN``) spliced in verbatim."""
    return raw(f'[{{"user_id": "u", "item_id": "i", "type": "{kind}", {fragment}}}]')


LONG_ID = "x" * 300


def case(
    name: str,
    request: str,
    body: Any,
    status: int,
    code: str,
    headers: dict[str, str] | None = None,
) -> Any:
    """One row: ``request`` is "METHOD /path"; ``body`` is a JSON value, raw bytes or None."""
    method, path = request.split(" ", 1)
    return pytest.param(method, path, body, headers or {}, status, code, id=name)


INVALID = "validation_error"
# fmt: off
CASES = [
    # JSON syntax and encoding
    case("malformed json", "POST /v1/items", raw('[{"item_id": "a",'), 400, "invalid_json", JSON),
    case("trailing garbage", "POST /v1/feedback", raw("[] x"), 400, "invalid_json", JSON),
    case("single quotes", "POST /v1/users", raw("[{'user_id': 'a'}]"), 400, "invalid_json", JSON),
    case("non-utf8 body", "POST /v1/items",
         raw(b'[{"item_id": "\xff\xfe"}]'), 400, "invalid_encoding", JSON),
    case("deeply nested", "POST /v1/items", raw("[" * 3000), 400, "invalid_json", JSON),
    case("lone surrogate", "POST /v1/items", raw('[{"item_id": "\\ud800"}]'), 422, INVALID, JSON),
    case("no content type", "POST /v1/items",
         raw('[{"item_id": "a"}]'), 415, "unsupported_media_type"),
    case("text/plain", "POST /v1/items",
         raw('[{"item_id": "a"}]'), 415, "unsupported_media_type", {"content-type": "text/plain"}),
    case("empty body", "POST /v1/items", raw(b""), 422, INVALID, JSON),
    case("bad content-length", "POST /v1/items",
         raw("[]"), 400, "invalid_content_length", {**JSON, "content-length": "-5"}),
    # shapes and types
    case("object not list", "POST /v1/items", {"item_id": "a"}, 422, INVALID),
    case("scalar not list", "POST /v1/feedback", "hello", 422, INVALID),
    case("null body", "POST /v1/users", None, 422, INVALID),
    case("list of scalars", "POST /v1/relations", [1, 2], 422, INVALID),
    case("user_id number", "POST /v1/feedback", ev(user_id=42), 422, INVALID),
    case("value as text", "POST /v1/feedback", ev(value="abc"), 422, INVALID),
    case("hidden maybe", "POST /v1/items", [{"item_id": "a", "hidden": "maybe"}], 422, INVALID),
    case("patch hidden maybe", "PATCH /v1/items/known", {"hidden": "maybe"}, 422, INVALID),
    case("patch hidden null", "PATCH /v1/items/known", {"hidden": None}, 422, INVALID),
    case("patch with list", "PATCH /v1/users/known", [{"tags": []}], 422, INVALID),
    case("tags not list", "POST /v1/users", [{"user_id": "a", "tags": "vip"}], 422, INVALID),
    case("attributes not object", "POST /v1/items",
         [{"item_id": "a", "attributes": [1]}], 422, INVALID),
    case("missing item_id", "POST /v1/feedback", [{"user_id": "u", "type": "like"}], 422, INVALID),
    case("missing type", "POST /v1/feedback", [{"user_id": "u", "item_id": "i"}], 422, INVALID),
    case("missing item key", "POST /v1/items", [{"title": "t"}], 422, INVALID),
    case("missing other user", "POST /v1/relations", [{"user_id": "a"}], 422, INVALID),
    case("extra field item", "POST /v1/items", [{"item_id": "a", "colour": "red"}], 422, INVALID),
    case("extra field event", "POST /v1/feedback", ev(rating=5), 422, INVALID),
    case("extra field patch", "PATCH /v1/users/known", {"nickname": "x"}, 422, INVALID),
    # batches
    case("empty items", "POST /v1/items", [], 422, "empty_batch"),
    case("empty users", "POST /v1/users", [], 422, "empty_batch"),
    case("empty feedback", "POST /v1/feedback", [], 422, "empty_batch"),
    case("empty relations", "POST /v1/relations", [], 422, "empty_batch"),
    case("batch too large", "POST /v1/items",
         [{"item_id": f"b{i}"} for i in range(6)], 413, "batch_too_large"),
    case("oversized payload", "POST /v1/items",
         [{"item_id": "a", "text": "z" * MAX_BYTES}], 413, "payload_too_large"),
    # sizes and characters
    case("id 300 chars", "POST /v1/items", [{"item_id": LONG_ID}], 422, INVALID),
    case("empty id", "POST /v1/users", [{"user_id": ""}], 422, INVALID),
    case("event id 300 chars", "POST /v1/feedback", ev(event_id=LONG_ID), 422, INVALID),
    case("title over 1000", "POST /v1/items",
         [{"item_id": "a", "title": "t" * 1001}], 422, INVALID),
    case("too many tags", "POST /v1/users", [{"user_id": "a", "tags": ["t"] * 201}], 422, INVALID),
    case("newline in id", "POST /v1/feedback", ev(user_id="a\nb"), 422, INVALID),
    case("nul in id", "POST /v1/items", [{"item_id": "a\u0000b"}], 422, INVALID),
    case("control char in tag", "POST /v1/items",
         [{"item_id": "a", "tags": ["x\u0007"]}], 422, INVALID),
    case("path id 300 chars", f"GET /v1/items/{LONG_ID}", None, 422, INVALID),
    case("path id control char", "GET /v1/users/a%01b", None, 422, INVALID),
    case("path id nul on patch", "PATCH /v1/items/a%00", {"title": "x"}, 422, INVALID),
    case("bad relation type", "POST /v1/relations",
         [{"user_id": "a", "other_user_id": "b", "type": "best friend"}], 422, INVALID),
    # values
    case("NaN value", "POST /v1/feedback",
         raw_event("rating", '"value": NaN'), 422, INVALID, JSON),
    case("Infinity value", "POST /v1/feedback",
         raw_event("rating", '"value": Infinity'), 422, INVALID, JSON),
    case("overflowing value", "POST /v1/feedback",
         raw_event("rating", '"value": 1e400'), 422, INVALID, JSON),
    case("NaN timestamp", "POST /v1/feedback",
         raw_event("like", '"timestamp": NaN'), 422, INVALID, JSON),
    case("timestamp millis", "POST /v1/feedback", ev(timestamp=1_700_000_000_000), 422, INVALID),
    case("timestamp text", "POST /v1/feedback", ev(timestamp="yesterday"), 422, INVALID),
    case("timestamp bool", "POST /v1/feedback", ev(timestamp=True), 422, INVALID),
    case("published millis", "POST /v1/items",
         [{"item_id": "a", "published_at": 1_700_000_000_000}], 422, INVALID),
    case("unknown feedback type", "POST /v1/feedback",
         ev(type="teleport"), 422, "unknown_feedback_type"),
    case("bad feedback type name", "POST /v1/feedback", ev(type="no spaces"), 422, INVALID),
    # unknown ids
    case("get unknown item", "GET /v1/items/nope", None, 404, "item_not_found"),
    case("patch unknown item", "PATCH /v1/items/nope", {"title": "x"}, 404, "item_not_found"),
    case("delete unknown item", "DELETE /v1/items/nope", None, 404, "item_not_found"),
    case("get unknown user", "GET /v1/users/nope", None, 404, "user_not_found"),
    case("patch unknown user", "PATCH /v1/users/nope", {"tags": []}, 404, "user_not_found"),
    case("delete unknown user", "DELETE /v1/users/nope", None, 404, "user_not_found"),
    case("feedback of unknown user", "GET /v1/users/nope/feedback", None, 404, "user_not_found"),
    case("similar to unknown item", "GET /v1/items/nope/similar", None, 404, "item_not_found"),
    # query parameters
    case("n zero", "GET /v1/users/known/recommendations?n=0", None, 422, INVALID),
    case("n huge", "GET /v1/users/known/recommendations?n=100000", None, 422, INVALID),
    case("n enormous", "GET /v1/popular?n=" + "9" * 40, None, 422, INVALID),
    case("n negative", "GET /v1/items/known/similar?n=-3", None, 422, INVALID),
    case("n text", "GET /v1/popular?n=ten", None, 422, INVALID),
    case("popular user control char", "GET /v1/popular?user_id=%07", None, 422, INVALID),
    case("limit zero", "GET /v1/items?limit=0", None, 422, INVALID),
    case("limit too big", "GET /v1/users?limit=1001", None, 422, INVALID),
    case("bad cursor", "GET /v1/items?cursor=%21%21%21", None, 400, "invalid_cursor"),
    case("cursor decodes to nul", "GET /v1/users?cursor=AA", None, 400, "invalid_cursor"),
    case("bad event cursor", "GET /v1/users/known/feedback?cursor=YWJj",
         None, 400, "invalid_cursor"),
    case("huge event cursor", "GET /v1/users/known/feedback?cursor=OTk5OTk5OTk5OTk5OTk5OTk5OTk5",
         None, 400, "invalid_cursor"),
    case("cursor too long", "GET /v1/items?cursor=" + "A" * 2000, None, 422, INVALID),
    # routing
    case("unknown route", "GET /v1/nothing-here", None, 404, "not_found"),
    case("unversioned route", "GET /items", None, 404, "not_found"),
    case("wrong method put", "PUT /v1/items", [{"item_id": "a"}], 405, "method_not_allowed"),
    case("wrong method delete", "DELETE /v1/items", None, 405, "method_not_allowed"),
    case("wrong method post", "POST /v1/popular", [], 405, "method_not_allowed"),
]
# fmt: on


@pytest.mark.parametrize("method, path, body, headers, status, code", CASES)
def test_bad_input_gets_a_json_error(
    strict_client: TestClient,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    if isinstance(body, bytes):
        content = body
    elif body is None and method in ("GET", "DELETE"):
        content = None
    else:
        content = json.dumps(body).encode()
        headers = {**JSON, **headers}
    response = strict_client.request(method, path, content=content, headers=headers)
    assert response.status_code < 500
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert (response.status_code, error["code"]) == (status, code), error
    assert isinstance(error["message"], str) and error["message"]
    if code == "validation_error":
        assert error["details"] and all("loc" in d and "msg" in d for d in error["details"])


def test_unknown_feedback_type_names_type_and_row(strict_client: TestClient) -> None:
    rows = [*ev(), *ev(type="teleport"), *ev(type="view")]
    error = strict_client.post("/v1/feedback", json=rows).json()
    assert "teleport" in error["message"] and "body.1.type" in error["message"]
    assert error["details"] == [
        {
            "type": "unknown_feedback_type",
            "loc": ["body", 1, "type"],
            "input": "teleport",
            "index": 1,
        }
    ]
    assert strict_client.get("/v1/users/u").status_code == 404  # nothing of the batch stored


def test_streamed_body_over_the_limit(strict_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'[{"item_id": "a", "text": "'
        for _ in range(10):
            yield b"z" * 1000
        yield b'"}]'

    response = strict_client.post("/v1/items", content=chunks(), headers=JSON)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert strict_client.get("/v1/items/a").status_code == 404


def test_method_not_allowed_lists_allowed_methods(strict_client: TestClient) -> None:
    response = strict_client.delete("/v1/items")
    assert "POST" in response.headers["allow"]


def test_validation_details_are_json_safe(strict_client: TestClient) -> None:
    body = raw(
        '[{"user_id": "u", "item_id": "i", "type": "like", "value": NaN, "timestamp": 1e15}]'
    )
    response = strict_client.post("/v1/feedback", content=body, headers=JSON)
    details = response.json()["details"]
    assert {tuple(d["loc"]) for d in details} == {("body", 0, "value"), ("body", 0, "timestamp")}
    assert all(isinstance(d["msg"], str) for d in details)
    json.dumps(details, allow_nan=False)
