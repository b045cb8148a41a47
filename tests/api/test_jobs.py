"""Training jobs over HTTP: a worker process trains while requests keep being answered,
progress at /v1/jobs/{id}, job state in the store (SQLite and PostgreSQL), the schedule."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from recserve.store import Store
from tests.api.conftest import synthetic_events, train

DONE = ("succeeded", "failed")


def wait_for_job(
    client: TestClient, job_id: str, timeout: float = 180, seen: list[dict] | None = None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        if seen is not None:
            seen.append(body)
        if body["status"] in DONE:
            return body
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish: {body}")


def test_a_job_swaps_champions_under_load_with_no_failed_request(
    trained_client: TestClient,
) -> None:
    client = trained_client
    before = client.get("/v1/users/u00/recommendations").json()["model"]
    failures: list[str] = []
    models: set[str] = set()
    stop = threading.Event()

    def hammer(path: str) -> None:
        while not stop.is_set():
            response = client.get(path, params={"n": 5})
            if response.status_code != 200 or not response.json()["items"]:
                failures.append(f"{path}: {response.status_code} {response.text}")
            else:
                models.add(response.json()["model"])

    paths = ["/v1/users/u00/recommendations", "/v1/items/i01/similar", "/v1/popular"]
    threads = [threading.Thread(target=hammer, args=(p,)) for p in paths * 2]
    for thread in threads:
        thread.start()
    try:
        started = client.post("/v1/models/train", json={"promote": "always"})
        assert started.status_code == 202, started.text
        job = started.json()
        assert started.headers["Location"] == f"/v1/jobs/{job['job_id']}"
        assert job["status"] == "queued" and job["trigger"] == "api"
        busy = client.post("/v1/models/train", json={})
        assert busy.status_code == 409 and busy.json()["code"] == "job_already_running"
        seen: list[dict] = []
        done = wait_for_job(client, job["job_id"], seen=seen)
        deadline = time.monotonic() + 30  # the monitor thread swaps the champions in
        while client.get("/v1/users/u00/recommendations").json()["model"] == before:
            assert time.monotonic() < deadline, "the new champion was not swapped in"
            time.sleep(0.05)
        time.sleep(0.3)  # requests keep running across the swap
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"] == 1.0 and done["step"] == "done"
    running = [s for s in seen if s["status"] == "running"]
    assert running and any(0 < s["progress"] < 1 and s["step"] for s in running)
    results = done["results"]
    assert results["split"]["name"] == "per_user_holdout"
    knn = results["models"]["item_knn"]
    assert knn["version"] == "v0002" and knn["metrics"]["ndcg@10"] > 0
    # a seeded sample of at most 2,000 users, stated (60 users here: all of them)
    assert knn["metrics"]["sample_seed"] == 0
    assert knn["metrics"]["users_evaluated"] == knn["metrics"]["users_eligible"] > 0
    assert "similar_items" in knn["promoted_to"]
    assert before in models and len(models) > 3  # old and new versions were both served
    after = client.get("/v1/users/u00/recommendations").json()["model"]
    assert after != before and after == results["scenarios"]["recommended"]["champion_after"]
    listed = client.get("/v1/jobs").json()["data"]
    assert listed[0]["job_id"] == job["job_id"]


def test_if_better_refits_the_champions_config_only_on_new_data(
    trained_client: TestClient,
) -> None:
    client = trained_client
    assert client.get("/v1/scenarios").json()["data"]  # latest/v0001 serves "latest"
    started = client.post("/v1/models/train", json={"models": ["latest"], "scenarios": ["latest"]})
    assert started.status_code == 202, started.text
    first = wait_for_job(client, started.json()["job_id"])
    assert first["status"] == "succeeded", first["error"]
    latest = first["results"]["models"]["latest"]
    assert latest["promoted_to"] == [] and "same data" in latest["not_promoted"]["latest"]
    event = {"user_id": "u00", "item_id": "i05", "type": "like", "timestamp": 1_700_000_000}
    assert client.post("/v1/feedback", json=[event]).status_code == 200
    again = client.post("/v1/models/train", json={"models": ["latest"]})
    second = wait_for_job(client, again.json()["job_id"])
    assert second["results"]["models"]["latest"]["promoted_to"] == ["latest"]
    reason = second["results"]["scenarios"]["latest"]["reason"]
    assert "refitted on newer data" in reason


def test_bad_train_requests_get_stable_codes(client: TestClient) -> None:
    unknown = client.post("/v1/models/train", json={"models": ["no_such_model"]})
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_model"
    scenario = client.post("/v1/models/train", json={"scenarios": ["nowhere"]})
    assert scenario.status_code == 422 and scenario.json()["code"] == "unknown_scenario"
    for body in ({"promote": "sometimes"}, {"models": "popular"}, {"colour": 1}, [1]):
        response = client.post("/v1/models/train", json=body)
        assert response.status_code == 422 and response.json()["code"] == "validation_error"
    missing = client.get("/v1/jobs/0123456789abcdef")
    assert missing.status_code == 404 and missing.json()["code"] == "job_not_found"
    assert client.get("/v1/jobs", params={"limit": 0}).status_code == 422


def test_a_job_on_an_empty_store_fails_visibly(client: TestClient) -> None:
    job = client.post("/v1/models/train", json={}).json()
    done = wait_for_job(client, job["job_id"])
    assert done["status"] == "failed" and "no feedback events" in done["error"]


def test_job_state_lives_in_the_database(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(database_url=database_url)
    assert client.post("/v1/feedback", json=synthetic_events()).status_code == 200
    job = client.post("/v1/models/train", json={"models": ["popular", "item_knn"]}).json()
    done = wait_for_job(client, job["job_id"])
    assert done["status"] == "succeeded", done["error"]
    store = Store.open(database_url)  # another replica reads the same record
    try:
        row = store.jobs.get(job["job_id"])
    finally:
        store.close()
    assert row is not None and row["status"] == "succeeded" and row["pid"]
    assert row["results"]["models"]["popular"]["promoted_to"] == ["popular"]
    deadline = time.monotonic() + 30  # swapped in once the worker process has exited
    while client.get("/v1/popular").json().get("model") != "popular/v0001":
        assert time.monotonic() < deadline, "the trained champion was not swapped in"
        time.sleep(0.05)


def test_the_schedule_starts_jobs(make_client: Callable[..., TestClient]) -> None:
    client = make_client(train_interval_seconds=0.5)
    assert client.post("/v1/feedback", json=synthetic_events()).status_code == 200
    train(client.app)  # type: ignore[arg-type]
    deadline = time.monotonic() + 60
    while not (jobs := client.get("/v1/jobs").json()["data"]):
        assert time.monotonic() < deadline, "the schedule started no job"
        time.sleep(0.1)
    assert jobs[0]["trigger"] == "schedule" and jobs[0]["request"]["promote"] == "if_better"
    done = wait_for_job(client, jobs[0]["job_id"])
    assert done["status"] == "succeeded", done["error"]
