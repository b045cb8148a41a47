"""POST /v1/feedback reads and validates its raw body itself (one ``validate_json`` call):
the same rows are stored, the same 4xx codes come back as on every other route, the body
is still documented in OpenAPI, and the store path keeps batches whole and idempotent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings

JSON = {"content-type": "application/json"}
EVENT = '{"user_id": "u", "item_id": "i", "type": "like"'


def post(client: TestClient, body: bytes) -> tuple[int, dict[str, Any]]:
    response = client.post("/v1/feedback", content=body, headers=JSON)
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


def events_of(client: TestClient, user_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/users/{user_id}/feedback", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.fixture
def db_client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """A client on SQLite and on the real PostgreSQL server."""
    settings = Settings(data_dir=tmp_path, database_url=database_url, model_poll_seconds=0)
    with TestClient(create_app(settings)) as client:
        yield client


# fmt: off
BAD_BODIES = [
    # (name, body, status, code, loc of the first detail or None)
    ("empty body", b"", 422, "validation_error", ["body"]),
    ("whitespace only", b"   ", 400, "invalid_json", None),
    ("truncated", f"[{EVENT},".encode(), 400, "invalid_json", None),
    ("trailing garbage", b"[] x", 400, "invalid_json", None),
    ("not utf-8", b'[{"user_id": "\xff\xfe", "item_id": "i", "type": "like"}]',
     400, "invalid_encoding", None),
    ("nested too deeply", b"[" * 3000, 400, "invalid_json", None),
    ("integer of 5000 digits", f'[{EVENT}, "value": {"9" * 5000}}}]'.encode(),
     400, "invalid_json", None),
    ("timestamp of 400 digits", f'[{EVENT}, "timestamp": {"9" * 400}}}]'.encode(),
     422, "validation_error", ["body", 0, "timestamp"]),
    ("lone surrogate", f'[{EVENT}, "event_id": "\\ud800"}}]'.encode(),
     422, "validation_error", ["body", 0, "event_id"]),
    ("object, not list", EVENT.encode() + b"}", 422, "validation_error", ["body"]),
    ("null", b"null", 422, "validation_error", ["body"]),
    ("list of numbers", b"[1, 2]", 422, "validation_error", ["body", 0]),
    ("NaN value", f'[{EVENT}, "value": NaN}}]'.encode(),
     422, "validation_error", ["body", 0, "value"]),
    ("overflowing value", f'[{EVENT}, "value": 1e400}}]'.encode(),
     422, "validation_error", ["body", 0, "value"]),
    ("extra field in row 2", f'[{EVENT}}}, {EVENT}, "rating": 5}}]'.encode(),
     422, "validation_error", ["body", 1, "rating"]),
    ("missing type", b'[{"user_id": "u", "item_id": "i"}]',
     422, "validation_error", ["body", 0, "type"]),
    ("empty list", b"[]", 422, "empty_batch", None),
    ("unknown type", f'[{EVENT}}}, {EVENT}, "type": "teleport"}}]'.encode(),
     422, "unknown_feedback_type", ["body", 1, "type"]),
]
# fmt: on


@pytest.mark.parametrize(
    "body, status, code, loc", [pytest.param(*case[1:], id=case[0]) for case in BAD_BODIES]
)
def test_bad_bodies_get_the_usual_errors(
    client: TestClient, body: bytes, status: int, code: str, loc: list[Any] | None
) -> None:
    got_status, error = post(client, body)
    assert (got_status, error["code"]) == (status, code), error
    assert isinstance(error["message"], str) and error["message"]
    if loc is not None:
        assert error["details"][0]["loc"] == loc, error
    assert client.get("/v1/users/u").status_code == 404  # nothing of a refused body is stored


def test_json_error_message_says_where(client: TestClient) -> None:
    status, error = post(client, b'[{"user_id": "u",, }]')
    assert status == 400 and "not valid JSON" in error["message"]
    assert "column" in error["message"] or "character" in error["message"]


def test_utf16_json_is_read_like_fastapi_reads_it(client: TestClient) -> None:
    """JSON the fast parser refuses but the standard library reads is still accepted."""
    status, answer = post(client, f'[{EVENT}, "event_id": "e16"}}]'.encode("utf-16"))
    assert (status, answer) == (200, {"accepted": 1, "duplicates": 0})
    assert [e["event_id"] for e in events_of(client, "u")] == ["e16"]


def test_iso_and_default_timestamps_and_all_fields_are_stored(client: TestClient) -> None:
    body = (
        b'[{"user_id": "u", "item_id": "i", "type": "rating", "value": 4.5,'
        b' "timestamp": "2024-01-02T03:04:05Z", "event_id": "e1", "session_id": "s1",'
        b' "recommendation_id": "r1"},'
        b' {"user_id": "u", "item_id": "j", "type": "view", "event_id": "e2"}]'
    )
    assert post(client, body) == (200, {"accepted": 2, "duplicates": 0})
    newest, oldest = events_of(client, "u")
    assert oldest == {
        "event_id": "e1",
        "user_id": "u",
        "item_id": "i",
        "type": "rating",
        "value": 4.5,
        "timestamp": "2024-01-02T03:04:05Z",
        "session_id": "s1",
        "recommendation_id": "r1",
    }
    assert newest["event_id"] == "e2" and newest["value"] is None
    assert newest["timestamp"] >= "2025"  # the time of ingestion
    assert client.get("/v1/items/j").status_code == 200  # created on the fly


def test_oversized_streamed_body_is_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_request_bytes=2048)

    def chunks() -> Iterator[bytes]:
        yield b"["
        for k in range(100):
            yield f'{{"user_id": "u{k}", "item_id": "i", "type": "like"}},'.encode()
        yield f"{EVENT}}}]".encode()

    response = client.post("/v1/feedback", content=chunks(), headers=JSON)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert client.get("/v1/users/u0").status_code == 404


def test_batch_limit(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_batch_size=3)
    body = ("[" + ", ".join([f"{EVENT}}}"] * 4) + "]").encode()
    status, error = post(client, body)
    assert (status, error["code"]) == (413, "batch_too_large")


def test_key_is_checked_before_the_body_is_read(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=[{"key": "writer-key-123", "scopes": ["write"]}])
    assert post(client, b"[{")[1]["code"] == "missing_api_key"
    response = client.post(
        "/v1/feedback", content=b"[{", headers={**JSON, "X-API-Key": "writer-key-123"}
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_json"


def test_openapi_documents_the_body(client: TestClient) -> None:
    operation = client.app.openapi()["paths"]["/v1/feedback"]["post"]  # type: ignore[attr-defined]
    body = operation["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert schema["type"] == "array"
    items = schema["items"]
    assert items["title"] == "FeedbackCreate"
    assert set(items["required"]) == {"user_id", "item_id", "type"}
    assert {"value", "timestamp", "event_id", "session_id"} <= set(items["properties"])
    assert items["additionalProperties"] is False
    assert client.get("/openapi.json").json()["paths"]["/v1/feedback"]["post"] == operation
    assert client.get("/docs").status_code == 200


def test_batches_are_idempotent_and_whole(db_client: TestClient) -> None:
    """On SQLite and PostgreSQL, by both store paths (plain INSERT for small batches, COPY
    for large ones): repeated event ids are skipped and counted; a refused batch stores
    nothing."""
    assert db_client.post("/v1/items", json=[{"item_id": "i0", "title": "kept"}]).status_code == 200
    big = [
        {"user_id": f"u{k % 7}", "item_id": f"i{k % 31}", "type": "view", "event_id": f"e{k}"}
        for k in range(600)
    ]
    assert db_client.post("/v1/feedback", json=big).json() == {"accepted": 600, "duplicates": 0}
    assert db_client.get("/v1/items/i0").json()["title"] == "kept"
    created = db_client.get("/v1/items/i30").json()
    assert {k: created[k] for k in ("title", "tags", "categories", "attributes", "hidden")} == {
        "title": None,
        "tags": [],
        "categories": [],
        "attributes": {},
        "hidden": False,
    }
    assert db_client.get("/v1/users/u6").json()["tags"] == []
    assert db_client.get("/v1/users", params={"limit": 1000}).json()["count"] == 7
    again = [*big[:250], {"user_id": "new", "item_id": "i0", "type": "like", "event_id": "n1"}]
    assert db_client.post("/v1/feedback", json=again).json() == {
        "accepted": 1,
        "duplicates": 250,
    }
    small = [
        {"user_id": "s", "item_id": "x", "type": "like", "event_id": "s1"},
        {"user_id": "s", "item_id": "y", "type": "like", "event_id": "s1"},
        {"user_id": "s", "item_id": "z", "type": "like"},
        {"user_id": "s", "item_id": "z", "type": "like"},
    ]
    assert db_client.post("/v1/feedback", json=small).json() == {"accepted": 3, "duplicates": 1}
    assert [e["item_id"] for e in events_of(db_client, "s")] == ["z", "z", "x"]
    assert len(events_of(db_client, "u0")) == len(range(0, 600, 7))
    assert db_client.get("/v1/users/new").status_code == 200
    refused = [{"user_id": "r", "item_id": "r", "type": "like"}, {"user_id": "r", "type": "x"}]
    assert db_client.post("/v1/feedback", json=refused).status_code == 422
    assert db_client.get("/v1/users/r").status_code == 404


@pytest.mark.parametrize("size", [1, 300])
def test_text_the_database_refuses_is_a_4xx(db_client: TestClient, size: int) -> None:
    """A NUL character passes validation in ``recommendation_id``; PostgreSQL refuses it, by
    the plain INSERT (small batches) and by COPY (large ones) alike: 422, and nothing stored."""
    rows = [{"user_id": f"n{k}", "item_id": "i", "type": "like"} for k in range(size)]
    rows[-1]["recommendation_id"] = "a\u0000b"
    response = db_client.post("/v1/feedback", json=rows)
    if db_client.app.state.store.engine.dialect.name == "postgresql":  # type: ignore[attr-defined]
        assert response.status_code == 422 and response.json()["code"] == "invalid_value"
        assert db_client.get("/v1/users/n0").status_code == 404
    else:
        assert response.json() == {"accepted": size, "duplicates": 0}
