"""Training jobs against a real store (SQLite and PostgreSQL) and a real registry."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from recserve.config import default_feedback_types
from recserve.registry import ModelRegistry
from recserve.store import Store
from recserve.training.jobs import JobAlreadyRunning, JobRunner, execute_job, run_training
from tests.api.conftest import synthetic_events

TYPES = default_feedback_types()
KNN = ("item_knn", {"similarity": "cosine", "neighbours": 20}, ("recommended",))
# A deliberately bad model for "recommended": the same unseen items for everyone.
LATEST = ("latest", {}, ("recommended",))


@pytest.fixture
def store(database_url: str):
    store = Store.open(database_url)
    store.feedback.add(synthetic_events())
    yield store
    store.close()


def test_a_worse_candidate_is_refused_and_a_better_one_promoted(store: Store, tmp_path: Path):
    registry = ModelRegistry(tmp_path / "models")
    first = run_training(store, registry, TYPES, catalogue={"knn": KNN})
    assert first["scenarios"]["recommended"]["reason"].startswith("no champion yet")
    assert registry.champions() == {"recommended": "knn/v0001"}
    manifest = registry.manifest("knn", "v0001")
    assert manifest["split"]["name"] == "per_user_holdout" and manifest["fitted_on"] == "all"
    assert manifest["metrics"]["ndcg@10"] > 0.3 and manifest["data"]["events"] == 144

    worse = run_training(store, registry, TYPES, catalogue={"bad": LATEST})
    entry = worse["scenarios"]["recommended"]
    assert entry["winner"] is None and "does not beat champion knn/v0001" in entry["reason"]
    assert entry["champion_metrics"]["ndcg@10"] == pytest.approx(manifest["metrics"]["ndcg@10"])
    assert worse["models"]["bad"]["promoted_to"] == []
    assert registry.manifest("bad", "v0001")["fitted_on"] == "train"  # kept as evaluated
    assert registry.champions() == {"recommended": "knn/v0001"}

    # "latest" as champion, then item-kNN as the candidate: it wins on the same split
    registry.promote("recommended", "bad", "v0001")
    better = run_training(store, registry, TYPES, catalogue={"knn": KNN})
    entry = better["scenarios"]["recommended"]
    assert entry["winner"] == "knn" and "beats champion bad/v0001" in entry["reason"]
    assert registry.champions() == {"recommended": "knn/v0002"}
    assert registry.history()["recommended"] == ["knn/v0001", "bad/v0001"]


def test_a_stored_job_records_progress_and_results(store: Store, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    job = store.jobs.create({"models": ["popular", "item_knn"], "promote": "if_better"})
    seen: list[tuple[float, str]] = []
    results = execute_job(
        store, registry, TYPES, job["job_id"], progress=lambda f, s: seen.append((f, s))
    )
    assert results is not None
    row = store.jobs.get(job["job_id"])
    assert row is not None and row["status"] == "succeeded" and row["progress"] == 1.0
    assert row["results"]["models"]["item_knn"]["version"] == "v0001"
    assert row["results"]["models"]["popular"]["promoted_to"] == ["popular"]
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and 0 < seen[-1][0] < 1
    assert any("evaluating item_knn" in s for _, s in seen)
    assert store.jobs.recent(5)[0]["job_id"] == job["job_id"]


def test_a_failed_job_and_a_dead_worker_are_visible_as_failed(store: Store, tmp_path: Path):
    registry = ModelRegistry(tmp_path / "models")
    job = store.jobs.create({"models": ["no_such_model"]})
    assert execute_job(store, registry, TYPES, job["job_id"]) is None
    row = store.jobs.get(job["job_id"])
    assert row is not None and row["status"] == "failed" and "no_such_model" in row["error"]

    stuck = store.jobs.create({})
    store.jobs.start(stuck["job_id"], pid=1)
    store.jobs.update(stuck["job_id"], heartbeat_at=time.time() - 3600)  # its worker died
    assert store.jobs.active() == []
    row = store.jobs.get(stuck["job_id"])
    assert row is not None and row["status"] == "failed" and "stopped responding" in row["error"]


def test_a_killed_worker_process_leaves_its_job_failed(store: Store, tmp_path: Path) -> None:
    finished = []
    runner = JobRunner(
        store,
        store.engine.url.render_as_string(hide_password=False),
        tmp_path / "models",
        TYPES,
        on_finish=lambda: finished.append(True),
    )
    job = runner.submit({"promote": "never"})
    with pytest.raises(JobAlreadyRunning):
        runner.submit({})
    process, _ = runner._workers[job["job_id"]]
    process.kill()  # long before the spawned interpreter gets to training
    runner.wait(timeout=60)
    row = store.jobs.get(job["job_id"])
    assert row is not None and row["status"] == "failed"
    assert "exited with code -9" in row["error"] and finished == [True]
    assert not runner.running()
