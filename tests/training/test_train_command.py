"""``recserve train`` and a training job started on the real server (uvicorn process, whose
worker is a spawned process), end to end."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import httpx

from tests.api.conftest import synthetic_events
from tests.live import live_server, run_cli


def test_train_command_then_a_job_on_the_live_server(tmp_path: Path) -> None:
    source = tmp_path / "events.csv"
    with source.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["user_id", "item_id", "type", "timestamp"])
        writer.writeheader()
        writer.writerows(synthetic_events())
    data = tmp_path / "data"
    run_cli("import", str(source), data_dir=data)

    first = run_cli("train", "--models", "popular,item_knn", data_dir=data).stdout
    assert "holdout: per_user_holdout" in first
    assert "item_knn: v0001" in first and "promoted to recommended, similar_items" in first
    second = run_cli("train", "--models", "item_knn", "--promote", "never", data_dir=data).stdout
    assert "item_knn: v0002" in second and "promoted to nothing" in second
    assert "not recommended: promotion disabled" in second

    with live_server("serve", data_dir=data, ready_path="/health") as (base, _):
        before = httpx.get(f"{base}/v1/users/u00/recommendations").json()["model"]
        assert before == "item_knn/v0001"
        jobs = httpx.get(f"{base}/v1/jobs").json()["data"]
        assert [j["trigger"] for j in jobs] == ["cli", "cli"]
        started = httpx.post(
            f"{base}/v1/models/train", json={"models": ["item_knn"], "promote": "always"}
        )
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        deadline = time.monotonic() + 120
        while (job := httpx.get(f"{base}/v1/jobs/{job_id}").json())["status"] not in (
            "succeeded",
            "failed",
        ):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["status"] == "succeeded", job["error"]
        while httpx.get(f"{base}/v1/users/u00/recommendations").json()["model"] == before:
            assert time.monotonic() < deadline, "the new champion was not swapped in"
            time.sleep(0.1)
        assert httpx.get(f"{base}/v1/scenarios").json()["data"]
        assert httpx.get(f"{base}/v1/users/u00/recommendations").json()["model"] == "item_knn/v0003"
