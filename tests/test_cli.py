"""The ``recserve`` command end to end: import, train, serve, demo, over real HTTP."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import dataset_path
from tests.live import live_server, run_cli


@pytest.mark.slow
def test_import_movielens_train_and_serve(tmp_path: Path) -> None:
    source = dataset_path("movielens-100k")
    out = run_cli("import", str(source), data_dir=tmp_path).stdout
    assert "'events': 100000" in out and "'users': 943" in out and "'items': 1682" in out
    # importing again stores nothing new
    assert "'events': 100000" in run_cli("import", str(source), data_dir=tmp_path).stdout
    trained = run_cli("train", data_dir=tmp_path).stdout
    assert "item_knn: v0001" in trained and "popular: v0001" in trained

    with live_server("serve", data_dir=tmp_path, ready_path="/ready") as (base, _):
        for user in ("1", "196", "943"):
            seen = set()
            cursor = None
            while True:
                page = httpx.get(
                    f"{base}/v1/users/{user}/feedback",
                    params={"limit": 1000, **({"cursor": cursor} if cursor else {})},
                ).json()
                seen |= {e["item_id"] for e in page["data"]}
                if not (cursor := page["next_cursor"]):
                    break
            response = httpx.get(f"{base}/v1/users/{user}/recommendations", params={"n": 10})
            assert response.status_code == 200
            body = response.json()
            items = [entry["item_id"] for entry in body["items"]]
            assert len(items) == 10 and not set(items) & seen
            # the model search's winner serves the recommended scenario
            champions = httpx.get(f"{base}/v1/scenarios").json()["data"]
            recommended = next(c for c in champions if c["scenario"] == "recommended")
            assert body["user_id"] == user and body["model"] == recommended["champion"]
        similar = httpx.get(f"{base}/v1/items/50/similar", params={"n": 5}).json()
        assert len(similar["items"]) == 5


def test_cli_reports_bad_input_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "events.csv"
    bad.write_text("user_id,item_id,type,timestamp\nu1,i1,like,2020-01-01\nu2,i2,like,not-a-time\n")
    with pytest.raises(AssertionError) as failure:
        run_cli("import", str(bad), data_dir=tmp_path / "data")
    assert "line 3" in str(failure.value) and "Traceback" not in str(failure.value)
    with pytest.raises(AssertionError) as failure:
        run_cli("train", data_dir=tmp_path / "data")
    assert "no feedback events" in str(failure.value) and "Traceback" not in str(failure.value)


def test_invalid_settings_stop_the_cli_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as failure:
        run_cli("train", data_dir=tmp_path, RECSERVE_DATABASE_URL="mysql://nope")
    assert "database_url" in str(failure.value) and "Traceback" not in str(failure.value)


def test_demo_generates_trains_and_serves(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    with live_server(
        "demo", "--users", "150", "--items", "300", data_dir=data_dir, ready_path="/ready"
    ) as (base, _):
        log = (data_dir / "server.log").read_text()
        user = re.search(r"/v1/users/([^/]+)/recommendations", log)
        assert user is not None, log
        body = httpx.get(f"{base}/v1/users/{user.group(1)}/recommendations?n=10").json()
        assert len(body["items"]) == 10
        assert httpx.get(f"{base}/v1/popular?n=5").json()["items"]
        # the first model search runs in the background with the demo's own budget
        deadline = time.monotonic() + 60
        while not (jobs := httpx.get(f"{base}/v1/jobs").json()["data"]):
            assert time.monotonic() < deadline, "no training job started"
            time.sleep(0.2)
        assert [job["request"]["budget_seconds"] for job in jobs] == [60.0]
    # a second start reuses the data instead of generating it again
    with live_server("demo", data_dir=data_dir, ready_path="/ready"):
        assert "using the existing demo data" in (data_dir / "server.log").read_text()
