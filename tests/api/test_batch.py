"""Batch recommendation jobs over HTTP: start, follow, download; the lists equal the
per-user endpoint's; listed subsets with unknown users; errors and scopes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import synthetic_events, train

ADMIN = {"X-API-Key": "admin-key-1234"}
KEYS = [
    {"key": "reader-key-123", "scopes": ["read"]},
    {"key": "writer-key-123", "scopes": ["write"]},
    {"key": "admin-key-1234", "scopes": ["admin"]},
]


def finished(client: TestClient, job_id: str) -> dict[str, Any]:
    client.app.state.batch_runner.wait(60)  # type: ignore[attr-defined]
    response = client.get(f"/v1/recommendations/batch/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


def result_lines(client: TestClient, job_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/recommendations/batch/{job_id}/result")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


def assert_same(line: dict[str, Any], answer: dict[str, Any]) -> None:
    assert [i["item_id"] for i in line["items"]] == [i["item_id"] for i in answer["items"]]
    for ours, theirs in zip(line["items"], answer["items"], strict=True):
        assert abs(ours["score"] - theirs["score"]) <= 1e-5 * max(1.0, abs(theirs["score"]))
    assert line["model"] == answer["model"]


def test_every_user_equals_the_per_user_endpoint(trained_client: TestClient) -> None:
    started = trained_client.post("/v1/recommendations/batch", json={"n": 5})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] in ("queued", "running", "succeeded")
    assert started.headers["location"] == f"/v1/recommendations/batch/{job['job_id']}"
    done = finished(trained_client, job["job_id"])
    assert done["status"] == "succeeded" and done["progress"] == 1.0, done
    assert done["results"]["users"] == 24 and done["results"]["unknown_users"] == 0
    assert done["results"]["result_url"].endswith(f"/{job['job_id']}/result")
    lines = result_lines(trained_client, job["job_id"])
    assert [line["user_id"] for line in lines] == sorted(f"u{u:02d}" for u in range(24))
    for line in lines:
        answer = trained_client.get(f"/v1/users/{line['user_id']}/recommendations?n=5").json()
        assert_same(line, answer)


def test_listed_users_with_unknown_ones_reported(trained_client: TestClient) -> None:
    body = {"users": ["u07", "ghost", "u02"], "n": 3, "scenario": "popular"}
    job = trained_client.post("/v1/recommendations/batch", json=body).json()
    done = finished(trained_client, job["job_id"])
    assert done["status"] == "succeeded", done
    assert done["results"]["unknown_users"] == 1
    assert done["results"]["unknown_user_ids"] == ["ghost"]
    assert done["request"]["users"] == ["u07", "ghost", "u02"]
    lines = result_lines(trained_client, job["job_id"])
    assert [line["user_id"] for line in lines] == ["u07", "u02"]
    for line in lines:
        answer = trained_client.get(f"/v1/popular?n=3&user_id={line['user_id']}").json()
        assert_same(line, answer)


def test_a_job_without_models_fails_with_the_reason(client: TestClient) -> None:
    assert client.post("/v1/feedback", json=synthetic_events()).status_code == 200
    job = client.post("/v1/recommendations/batch", json={}).json()
    done = finished(client, job["job_id"])
    assert done["status"] == "failed" and "no model is trained" in done["error"]
    result = client.get(f"/v1/recommendations/batch/{job['job_id']}/result")
    assert result.status_code == 409 and result.json()["code"] == "job_not_done"
    missing = client.get("/v1/recommendations/batch/nosuchjob")
    assert missing.status_code == 404 and missing.json()["code"] == "job_not_found"
    # once trained, the same request succeeds
    train(client.app)  # type: ignore[arg-type]
    again = client.post("/v1/recommendations/batch", json={"n": 2}).json()
    assert finished(client, again["job_id"])["status"] == "succeeded"


def test_bad_requests_get_clear_errors(trained_client: TestClient) -> None:
    for body, where in (
        ({"n": 0}, "n"),
        ({"n": 100_000}, "n"),
        ({"scenario": "similar_items"}, "scenario"),
        ({"users": []}, "users"),
        ({"users": ["ok", ""]}, "users"),
        ({"colour": "red"}, "colour"),
    ):
        response = trained_client.post("/v1/recommendations/batch", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_error" and where in response.text


def test_batch_jobs_need_the_admin_scope(make_client: Callable[..., TestClient]) -> None:
    secured = make_client(api_keys=KEYS)
    for key in ("reader-key-123", "writer-key-123"):
        headers = {"X-API-Key": key}
        started = secured.post("/v1/recommendations/batch", json={}, headers=headers)
        assert started.status_code == 403, started.text
        status = secured.get("/v1/recommendations/batch/x", headers=headers)
        assert status.status_code == 403
    started = secured.post("/v1/recommendations/batch", json={}, headers=ADMIN)
    assert started.status_code == 202
    job_id = started.json()["job_id"]
    secured.app.state.batch_runner.wait(60)  # type: ignore[attr-defined]
    assert secured.get(f"/v1/recommendations/batch/{job_id}", headers=ADMIN).status_code == 200
