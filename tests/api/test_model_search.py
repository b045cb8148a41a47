"""The model search inside training jobs, through the HTTP API (and the CLI for a family
that fails): a short budget still promotes, every trial is reported, the next job warm
starts from the champion, a failing family is skipped, the holdout is never tuned on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from fastapi.testclient import TestClient

from recserve.algorithms.base import REGISTERED, ModelConfig, Recommender
from recserve.cli import main
from recserve.data import Dataset
from recserve.evaluation import leave_last_out
from recserve.store import Store
from recserve.training.search import events_digest
from recserve.training.selection import per_user_holdout
from tests.api.conftest import synthetic_events
from tests.api.test_jobs import wait_for_job

SHORT = 3.0  # seconds of search: enough for the cheap families on the synthetic set


def start(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/models/train", json={"budget_seconds": SHORT, **body})
    assert response.status_code == 202, response.text
    done = wait_for_job(client, response.json()["job_id"])
    assert done["status"] == "succeeded", done["error"]
    return done


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    assert client.post("/v1/feedback", json=synthetic_events()).status_code == 200
    return client


def test_a_short_budget_promotes_the_searched_model_and_reports_every_trial(
    loaded: TestClient,
) -> None:
    job = start(loaded)
    search = job["results"]["search"]
    assert job["request"]["budget_seconds"] == SHORT
    trials = search["trials"]
    # cheap strong families first; how many more run depends on the machine's speed
    assert trials[0]["family"] == "popular" and trials[0]["source"] == "default"
    assert {t["family"] for t in trials} <= {*search["families"], "hybrid"}
    assert search["families"][:4] == ["popular", "item_knn", "ease", "als"]
    for trial in trials:
        assert set(trial) >= {"number", "family", "params", "value", "seconds", "state"}
        assert trial["state"] in ("complete", "pruned", "failed")
    best = trials[search["best_trial"]]
    assert best["state"] == "complete"
    assert best["value"] == max(t["value"] for t in trials if t["state"] == "complete")
    assert all(reason for reason in search["skipped"].values())  # each skip says why
    recommended = job["results"]["scenarios"]["recommended"]
    champion = recommended["champion_after"]
    assert champion and "no champion yet" in recommended["reason"]
    name, version = champion.split("/")
    manifest = loaded.get(f"/v1/models/{name}/{version}").json()["manifest"]
    assert manifest["family"] == best["family"]
    assert manifest["search"]["job_id"] == job["job_id"]
    assert manifest["search"]["trial"] == best["number"]
    assert manifest["fitted_on"] == "all"


def test_the_next_job_starts_from_the_champions_configuration(loaded: TestClient) -> None:
    first = start(loaded)
    champion = first["results"]["scenarios"]["recommended"]["champion_after"]
    name, version = champion.split("/")
    manifest = loaded.get(f"/v1/models/{name}/{version}").json()["manifest"]
    second = start(loaded)
    search = second["results"]["search"]
    assert search["warm_start"] == {"family": manifest["family"], "config": manifest["config"]}
    opening = search["trials"][0]
    assert opening["source"] == "warm_start" and opening["family"] == manifest["family"]
    config = manifest["config"]
    if opening["family"] != "hybrid":
        assert all(config[k] == v for k, v in opening["params"].items() if k in config)


def test_the_holdout_is_never_used_for_tuning(loaded: TestClient, tmp_path: Path) -> None:
    job = start(loaded)
    split, validation = job["results"]["split"], job["results"]["search"]["validation"]
    # the search saw exactly the holdout's train part: its events split in two
    parts = validation["train"]["events"] + validation["test"]["events"]
    assert parts == split["train_events"]
    assert validation["test"]["events"] == validation["test"]["users"]  # one per user
    # recompute both splits from the stored events: the recorded ones are these
    store = Store.open(loaded.app.state.settings.resolved_database_url)  # type: ignore[attr-defined]
    try:
        data = Dataset.from_store(store, loaded.app.state.settings.feedback_types)  # type: ignore[attr-defined]
    finally:
        store.close()
    holdout = per_user_holdout(data)
    assert events_digest(holdout.test) == split["test_digest"]
    inner = leave_last_out(holdout.train)
    assert events_digest(inner.test) == validation["test"]["digest"]
    held = {(u, i, t) for u, i, t in zip(*_triples(holdout.test), strict=True)}
    tuned = {(u, i, t) for u, i, t in zip(*_triples(inner.test), strict=True)}
    assert held and tuned and not held & tuned


def _triples(data: Dataset) -> tuple[list[str], list[str], list[float]]:
    return (
        data.users.ids[data.user].tolist(),
        data.items.ids[data.item].tolist(),
        data.timestamp.tolist(),
    )


def test_unknown_families_get_a_stable_code(client: TestClient) -> None:
    response = client.post("/v1/models/train", json={"families": ["no_such_family"]})
    assert response.status_code == 422 and response.json()["code"] == "unknown_model"
    bad = client.post("/v1/models/train", json={"budget_seconds": 0})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"


@pytest.fixture
def failing_family() -> Iterator[str]:
    """A family whose fit always raises, registered for this test only."""

    class Failing(Recommender[ModelConfig]):
        family = "test_always_fails"

        def _fit(self, data: Dataset) -> None:
            raise RuntimeError("this family cannot fit any data")

        def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
            raise AssertionError("never fitted")

        def _state(self) -> dict[str, np.ndarray]:
            return {}

        def _restore(self, arrays: dict[str, np.ndarray]) -> None:
            pass

    yield Failing.family
    del REGISTERED[Failing.family]


def test_a_family_that_fails_is_reported_and_skipped(
    loaded: TestClient, tmp_path: Path, failing_family: str
) -> None:
    # the CLI runs the job in this process, where the failing family is registered
    result = CliRunner().invoke(
        main,
        [
            "--data-dir",
            str(tmp_path),
            "train",
            "--budget",
            str(SHORT),
            "--families",
            f"{failing_family},popular,item_knn",  # it runs first: before any trial completes
        ],
    )
    assert result.exit_code == 0, result.output
    assert "model search:" in result.output and failing_family in result.output
    job = loaded.get("/v1/jobs").json()["data"][0]
    assert job["trigger"] == "cli" and job["status"] == "succeeded"
    trials = job["results"]["search"]["trials"]
    failed = [t for t in trials if t["family"] == failing_family]
    assert len(failed) == 1 and failed[0]["state"] == "failed"
    assert "cannot fit any data" in failed[0]["error"]
    champion = job["results"]["scenarios"]["recommended"]["champion_after"]
    assert champion.split("/")[0] in ("popular", "item_knn", "item_knn_search", "hybrid")
