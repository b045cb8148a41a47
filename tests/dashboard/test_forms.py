"""The dashboard's login, CSRF protection and bad input through HTTP (no browser needed):
every refusal is a 4xx, never a 500, and nothing is changed by a refused form."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings
from tests.dashboard.conftest import ADMIN_KEY, KEYS, READ_KEY

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = Settings(data_dir=tmp_path, model_poll_seconds=0, **overrides)
        client = TestClient(create_app(settings), follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


def token(client: TestClient, path: str = "/dashboard/models") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    found = TOKEN.search(response.text)
    assert found is not None
    return found.group(1)


def log_in(client: TestClient, key: str = ADMIN_KEY) -> Any:
    form_token = token(client, "/dashboard/login")
    return client.post(
        "/dashboard/login", data={"key": key, "next": "/dashboard/jobs", "csrf_token": form_token}
    )


def test_open_service_needs_no_login(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    for path in ["/", "/dashboard", "/dashboard/items", "/dashboard/users", "/dashboard/models",
                 "/dashboard/jobs", "/dashboard/experiments", "/dashboard/import"]:  # fmt: skip
        response = client.get(path)
        assert response.status_code == 200, path  # an empty store and registry too
        assert response.headers["content-type"].startswith("text/html")
    assert client.get("/dashboard/login").headers["location"] == "/"
    assert "No events yet" in client.get("/").text


def test_keys_need_an_admin_login(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=KEYS)
    response = client.get("/dashboard/models?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?next=/dashboard/models%3Fx%3D1"
    assert client.get("/dashboard/jobs/abc/status").status_code == 303

    assert log_in(client, "wrong-key-123").status_code == 401
    refused = log_in(client, READ_KEY)
    assert refused.status_code == 403 and "admin scope" in refused.text
    response = log_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/jobs"
    cookie = next(c for c in response.headers.get_list("set-cookie") if "recserve_key" in c)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert client.get("/dashboard/models").status_code == 200
    job = client.get("/dashboard/jobs/nope/status")
    assert job.status_code == 404 and job.json()["code"] == "job_not_found"

    client.post("/dashboard/logout", data={"csrf_token": token(client)})
    assert client.get("/dashboard/models").status_code == 303


def test_login_returns_only_to_local_pages(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=KEYS)
    for target in ["//evil.example/x", "https://evil.example/", "/\\evil.example"]:
        client.cookies.delete("recserve_key")  # logged out: the form's token is the anonymous one
        form_token = token(client, "/dashboard/login")
        response = client.post(
            "/dashboard/login", data={"key": ADMIN_KEY, "next": target, "csrf_token": form_token}
        )
        assert response.headers["location"] == "/"


def test_forms_need_the_csrf_token(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=KEYS)
    assert log_in(client).status_code == 303
    good = token(client)
    for data, headers in [
        ({}, {}),
        ({"csrf_token": "0" * 64}, {}),
        ({"csrf_token": good}, {"Origin": "https://evil.example"}),
    ]:
        response = client.post(
            "/dashboard/scenarios/recommended/rollback", data=data, headers=headers
        )
        assert response.status_code == 403, data
        assert response.json()["code"] == "csrf_failed"
    # a token is bound to the session's key: another login's page token does not fit
    other = make_client(api_keys=KEYS)
    assert log_in(other).status_code == 303
    other.cookies.set("recserve_key", ADMIN_KEY + "x")  # forged session
    assert other.post("/dashboard/logout", data={"csrf_token": token(client)}).status_code == 403
    response = client.post("/dashboard/scenarios/recommended/rollback", data={"csrf_token": good})
    assert response.status_code == 303  # accepted (and refused for lack of history)
    assert "no earlier champion" in response.headers["location"].replace("+", " ")


def test_bad_input_is_a_4xx(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    csrf = token(client)
    assert client.get("/dashboard/users/" + "u" * 300).status_code == 422
    assert client.get("/dashboard/items", params={"q": "x" * 201}).status_code == 422
    missing = client.get("/dashboard/users/nobody")
    assert missing.status_code == 404 and "No user with user_id" in missing.text

    def post(path: str, **data: Any) -> Any:
        return client.post(path, data={"csrf_token": csrf, **data})

    for path, data, message in [
        ("/dashboard/models/ease/v0001/promote", {"scenario": "recommended"}, "no model version"),
        ("/dashboard/models/ease/v0001/promote", {"scenario": "nope"}, "unknown scenario"),
        ("/dashboard/jobs", {"models": "no_such_model"}, "unknown model"),
        ("/dashboard/jobs", {"promote": "sometimes"}, "invalid request"),
        ("/dashboard/experiments", {"experiment_id": "x y", "treatment": "a/v1"}, "experiment_id"),
    ]:
        response = post(path, **data)
        assert response.status_code == 303, (path, response.text)
        assert message in response.headers["location"].replace("+", " ").replace("%27", "'")
    assert post("/dashboard/models/..%2F/v0001/promote", scenario="recommended").status_code in (
        404,
        422,
    )
    assert (
        post("/dashboard/experiments/nope/stop")
        .headers["location"]
        .startswith("/dashboard/experiments?error=")
    )


def test_import_validation_and_escaping(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    csrf = token(client, "/dashboard/import")

    def upload(name: str, body: bytes, **data: str) -> Any:
        return client.post(
            "/dashboard/import",
            data={"csrf_token": csrf, **data},
            files={"file": (name, body, "application/octet-stream")},
        )

    response = upload("notes.txt", b"hello")
    assert response.status_code == 422 and ".csv, .jsonl or .ndjson" in response.text
    response = upload("items.csv", b"item_id,title\nx1,a\n", kind="planets")
    assert response.status_code == 422 and "unknown kind" in response.text
    response = upload("../../items.csv", b"item_id,title\n,empty id\n")
    assert response.status_code == 422 and "items.csv line 2" in response.text
    assert client.get("/dashboard/items").text.count("<code>") == 0  # nothing imported

    title = "<script>alert(1)</script>"
    response = upload("items.jsonl", b'{"item_id": "x1", "title": "' + title.encode() + b'"}\n')
    assert response.status_code == 200 and "1 items" in response.text
    page = client.get("/dashboard/items").text
    assert "<code>x1</code>" in page
    assert title not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
