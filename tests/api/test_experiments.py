"""A/B experiments through HTTP, on SQLite and PostgreSQL: simulated traffic whose true
CTRs differ is recovered by the reported metrics; assignment is stable across requests and
restarts; variants are served by their own model; bad definitions are refused; stopping
returns the scenario to the champion."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings
from recserve.experiments.statistics import wilson
from tests.api.conftest import synthetic_events, train

ADMIN_KEY = "admin-key-123"
READ_KEY = "read-key-1234"
ADMIN = {"X-API-Key": ADMIN_KEY}
READ = {"X-API-Key": READ_KEY}


@pytest.fixture
def start(tmp_path: Path, database_url: str) -> Iterator[Callable[[], TestClient]]:
    """Start (or restart) the app on one data folder and database, with keys configured."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        settings = Settings(
            data_dir=tmp_path,
            database_url=database_url,
            model_poll_seconds=0,
            api_keys=[
                {"key": ADMIN_KEY, "scopes": ["admin"]},
                {"key": READ_KEY, "scopes": ["read"]},
            ],
        )
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


def _trained(client: TestClient) -> dict[str, str]:
    """Train the default models; returns model name -> its only version's ref."""
    assert client.post("/v1/feedback", json=synthetic_events(), headers=ADMIN).status_code == 200
    train(client.app)  # type: ignore[arg-type]
    versions = client.get("/v1/models", headers=READ).json()["versions"]
    return {v["name"]: v["ref"] for v in versions}


def _define(client: TestClient, **body: Any) -> Any:
    return client.post("/v1/experiments", json=body, headers=ADMIN)


def _recommend(client: TestClient, user: str) -> dict[str, Any]:
    response = client.get(f"/v1/users/{user}/recommendations", params={"n": 5}, headers=READ)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow  # 2,000 users through HTTP: ~25 s per database on 2 cores
def test_simulated_traffic_recovers_the_true_ctrs(
    start: Callable[[], TestClient], database_url: str
) -> None:
    """2,000 users (1,000 on PostgreSQL, where a request costs twice as much here); A's
    users click with p=0.10, B's with p=0.20 (events carrying the recommendation_id); the
    reported CTRs recover the truth and B > A is significant."""
    users = 2000 if database_url.startswith("sqlite") else 1000
    client = start()
    refs = _trained(client)
    created = _define(
        client,
        experiment_id="ctr-test",
        scenario="recommended",
        variants=[
            {"name": "A", "share": 0.5, "model": "champion"},
            {"name": "B", "share": 0.5, "model": refs["ease"]},
        ],
    )
    assert created.status_code == 201, created.text
    truth = {"A": 0.10, "B": 0.20}
    rng = np.random.default_rng(2026)
    served: Counter[str] = Counter()
    clicked: Counter[str] = Counter()
    converted: Counter[str] = Counter()
    events: list[dict[str, Any]] = []
    for u in range(users):
        user = f"sim{u:04d}"
        body = _recommend(client, user)
        variant, rid, items = body["variant"], body["recommendation_id"], body["items"]
        assert body["experiment"] == "ctr-test" and len(items) == 5
        served[variant] += 1
        event = {"user_id": user, "recommendation_id": rid, "timestamp": 1_700_000_000 + u}
        if rng.random() < truth[variant]:
            clicked[variant] += 1
            k = int(rng.integers(len(items)))
            events.append({**event, "item_id": items[k]["item_id"], "type": "click"})
            if rng.random() < 0.3:
                converted[variant] += 1
                events.append({**event, "item_id": items[k]["item_id"], "type": "purchase"})
        elif rng.random() < 0.2:  # not clicks: a dislike, or a click on an unlisted item
            listed = {i["item_id"] for i in items}
            other = next(f"i{i:02d}" for i in range(30) if f"i{i:02d}" not in listed)
            kind, item = ("dislike", items[0]["item_id"]) if u % 2 else ("click", other)
            events.append({**event, "item_id": item, "type": kind})
    assert abs(served["A"] / users - 0.5) < 0.05  # shares respected (sd <= 0.016)
    for start_at in range(0, len(events), 1000):
        posted = client.post("/v1/feedback", json=events[start_at : start_at + 1000], headers=READ)
        assert posted.status_code == 403  # a read key cannot post
        posted = client.post("/v1/feedback", json=events[start_at : start_at + 1000], headers=ADMIN)
        assert posted.status_code == 200, posted.text

    report = client.get("/v1/experiments/ctr-test", headers=READ).json()
    metrics = {v["variant"]: v for v in report["metrics"]["variants"]}
    for name, p in truth.items():
        m = metrics[name]
        assert m["impressions"] == served[name]  # every served list was logged
        assert m["clicked_lists"] == clicked[name]  # exactly the simulated clicks count
        assert m["converted_lists"] == converted[name]
        ctr = m["ctr"]
        assert ctr["rate"] == pytest.approx(clicked[name] / served[name])
        reference = wilson(clicked[name], served[name])
        assert (ctr["low"], ctr["high"]) == pytest.approx((reference.low, reference.high))
        # The truth lies in the 95% interval 95% of the time (tests/experiments checks the
        # coverage); here it must lie in the 99.9% one, so that this test fails on a wrong
        # estimate, not by chance (with this seed B's truth is just outside its 95% CI).
        wide = wilson(clicked[name], served[name], z=3.2905)
        assert wide.low <= p <= wide.high, (name, ctr)
    (comparison,) = report["metrics"]["comparisons"]
    assert comparison["baseline"] == "A" and comparison["variant"] == "B"
    se = (0.10 * 0.90 / served["A"] + 0.20 * 0.80 / served["B"]) ** 0.5
    assert abs(comparison["ctr_difference"] - 0.10) < 3.2905 * se  # the true difference
    assert comparison["ctr_p_value"] < 0.01  # B > A, significant
    assert metrics["B"]["ctr"]["low"] > metrics["A"]["ctr"]["high"]


def test_variants_stable_served_by_their_model_and_stopped(
    start: Callable[[], TestClient],
) -> None:
    client = start()
    refs = _trained(client)
    champion = client.get("/v1/models", headers=READ).json()["champions"]["recommended"]
    assert champion != refs["ease"]
    body = {
        "experiment_id": "stable",
        "variants": [
            {"name": "control", "share": 0.5},
            {"name": "ease", "share": 0.5, "model": refs["ease"]},
        ],
    }
    assert _define(client, **body).status_code == 201
    users = [f"u{u:02d}" for u in range(24)]  # known users: no popular fallback
    first = {u: _recommend(client, u) for u in users}
    assert {r["variant"] for r in first.values()} == {"control", "ease"}
    for answer in first.values():
        expected = champion if answer["variant"] == "control" else refs["ease"]
        assert answer["model"] == expected and answer["experiment"] == "stable"
    again = {u: _recommend(client, u)["variant"] for u in users}
    assert again == {u: r["variant"] for u, r in first.items()}

    client.__exit__(None, None, None)  # restart: same database and models
    client = start()
    assert {u: _recommend(client, u)["variant"] for u in users} == again
    listed = client.get("/v1/experiments", headers=READ).json()["data"]
    assert [(e["experiment_id"], e["status"]) for e in listed] == [("stable", "running")]
    assert (
        client.get("/v1/experiments/stable", headers=READ).json()["metrics"]["variants"][0][
            "impressions"
        ]
        == sum(r["variant"] == "control" for r in first.values()) * 3
    )

    replica = start()  # a second API process on the same database and registry
    replica.app.state.engine.experiments.reload_seconds = 0.05  # type: ignore[attr-defined]
    assert {u: _recommend(replica, u)["variant"] for u in users} == again

    assert client.post("/v1/experiments/stable/stop", headers=READ).status_code == 403
    stopped = client.post("/v1/experiments/stable/stop", headers=ADMIN)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    time.sleep(0.1)  # the replica re-reads the running experiments
    for u in users:
        for answering in (client, replica):
            answer = _recommend(answering, u)
            assert answer["model"] == champion
            assert answer["experiment"] is None and answer["variant"] is None
    assert client.post("/v1/experiments/stable/start", headers=ADMIN).json()["code"] == (
        "experiment_stopped"
    )


def test_a_scenario_variant_and_a_draft(start: Callable[[], TestClient]) -> None:
    client = start()
    refs = _trained(client)
    draft = _define(
        client,
        experiment_id="chain",
        status="draft",
        variants=[
            {"name": "A", "share": 0.5},
            {"name": "pop", "share": 0.5, "scenario": "popular"},
        ],
    )
    assert draft.status_code == 201 and draft.json()["variants"][1]["source"] == "scenario:popular"
    assert _recommend(client, "u00")["experiment"] is None  # a draft does not serve
    assert client.post("/v1/experiments/chain/start", headers=ADMIN).json()["status"] == "running"
    answers = [_recommend(client, f"u{u:02d}") for u in range(24)]
    popular = [a for a in answers if a["variant"] == "pop"]
    assert popular and all(a["model"] == refs["popular"] for a in popular)


def test_bad_definitions_are_refused(start: Callable[[], TestClient]) -> None:
    client = start()
    refs = _trained(client)
    good = [{"name": "A", "share": 0.5}, {"name": "B", "share": 0.5, "model": refs["ease"]}]

    def refused(expected: int, code: str, /, **body: Any) -> None:
        response = _define(client, **{"experiment_id": "x", "variants": good, **body})
        assert response.status_code == expected, response.text
        assert response.json()["code"] == code

    missing = [good[0], {"name": "B", "share": 0.5, "model": "ease/v0099"}]
    refused(422, "invalid_model_ref", variants=missing)
    refused(422, "invalid_model_ref", variants=[good[0], {"name": "B", "share": 0.5, "model": "x"}])
    refused(422, "invalid_model_ref", variants=[good[0], {**good[1], "model": "nope/v0001"}])
    refused(422, "invalid_shares", variants=[good[0], {**good[1], "share": 0.6}])
    refused(422, "invalid_variants", variants=[good[0], {**good[1], "name": "A"}])
    refused(422, "validation_error", variants=[good[0]])
    refused(422, "validation_error", variants=[good[0], {**good[1], "share": -1}])
    refused(
        422,
        "invalid_variant",
        variants=[good[0], {"name": "B", "share": 0.5, "scenario": "session"}],
    )
    refused(422, "invalid_variant", variants=[good[0], {**good[1], "scenario": "popular"}])
    refused(422, "unsupported_scenario", scenario="similar_items")
    refused(422, "unknown_event_type", click_types=["telepathy"])
    refused(422, "validation_error", experiment_id="bad id!")
    refused(422, "validation_error", status="stopped")
    refused(422, "validation_error", surprise=1)
    broken = client.post(
        "/v1/experiments",
        content=b"{",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_json"
    denied = client.post(
        "/v1/experiments", json={"experiment_id": "x", "variants": good}, headers=READ
    )
    assert denied.status_code == 403

    assert _define(client, experiment_id="ok", variants=good).status_code == 201
    refused(409, "experiment_exists", experiment_id="ok")
    refused(409, "scenario_busy", experiment_id="second")
    assert client.get("/v1/experiments/none", headers=READ).json()["code"] == "experiment_not_found"
    assert client.post("/v1/experiments/none/stop", headers=ADMIN).status_code == 404
    assert client.get("/v1/experiments", params={"status": "odd"}, headers=READ).status_code == 422
    assert client.get("/v1/experiments/a%20b", headers=READ).status_code == 422


def test_an_experiment_on_popular(start: Callable[[], TestClient]) -> None:
    """Global rankings split the requests that name a user; anonymous ones get the champion."""
    client = start()
    refs = _trained(client)
    body = {
        "experiment_id": "pop-test",
        "scenario": "popular",
        "variants": [
            {"name": "control", "share": 0.4},
            {"name": "trend", "share": 0.3, "scenario": "trending"},
            {"name": "newest", "share": 0.3, "model": refs["latest"]},
        ],
    }
    wrong = {
        **body,
        "variants": [body["variants"][0], {"name": "e", "share": 0.6, "model": refs["ease"]}],
    }
    assert _define(client, **wrong).json()["code"] == "invalid_model_ref"  # not a global ranking
    chained = [body["variants"][0], {"name": "r", "share": 0.6, "scenario": "recommended"}]
    assert _define(client, **{**body, "variants": chained}).json()["code"] == "invalid_variant"
    assert _define(client, **body).status_code == 201
    expected = {"control": refs["popular"], "trend": refs["trending"], "newest": refs["latest"]}
    seen = set()
    for u in range(24):
        answer = client.get("/v1/popular", params={"user_id": f"u{u:02d}"}, headers=READ).json()
        assert answer["experiment"] == "pop-test"
        assert answer["model"] == expected[answer["variant"]]
        seen.add(answer["variant"])
    assert seen == set(expected)
    anonymous = client.get("/v1/popular", headers=READ).json()
    assert anonymous["experiment"] is None and anonymous["model"] == refs["popular"]
    report = client.get("/v1/experiments/pop-test", headers=READ).json()
    assert sum(v["impressions"] for v in report["metrics"]["variants"]) == 24
    assert len(report["metrics"]["comparisons"]) == 2
