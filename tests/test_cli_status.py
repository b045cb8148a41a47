"""``recserve status``: counts and champions from the store and registry (CliRunner, no
server), and a running server's health, readiness and metrics (``--url``, live server)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from click.testing import CliRunner

from recserve.cli import main
from recserve.config import Settings
from recserve.store import Store
from tests.api.conftest import synthetic_events
from tests.live import live_server


def fill_store(data_dir: Path, database_url: str | None = None) -> int:
    """The API tests' synthetic events plus two friendships; returns the event count."""
    store = Store.open(Settings(data_dir=data_dir, database_url=database_url).resolved_database_url)
    try:
        rows = [
            {"event_id": f"e{i}", "value": None, "session_id": None, "recommendation_id": None, **e}
            for i, e in enumerate(synthetic_events())
        ]
        store.feedback.add(rows)
        store.relations.add(
            [{"user_id": "u00", "other_user_id": "u01"}, {"user_id": "u01", "other_user_id": "u02"}]
        )
    finally:
        store.close()
    return len(rows)


def cli(*args: str, data_dir: Path, database_url: str | None = None) -> str:
    database = ["--database-url", database_url] if database_url else []
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), *database, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_status_of_an_empty_store(tmp_path: Path) -> None:
    Store.open(Settings(data_dir=tmp_path).resolved_database_url).close()
    out = cli("status", data_dir=tmp_path)
    assert "users 0, items 0, events 0, relations 0" in out
    assert "champions: none" in out


def test_status_of_a_missing_data_dir_says_so_and_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "dat"
    for args in (["--data-dir", str(typo), "status"], ["status", "--data-dir", str(typo)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1
        assert f"data directory {typo} does not exist" in result.output
        assert not typo.exists()
    result = CliRunner().invoke(main, ["status", "--json", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "no store at" in result.output  # a folder, no store
    assert list(tmp_path.iterdir()) == []


def test_status_prints_counts_and_champions(tmp_path: Path, database_url: str) -> None:
    n_events = fill_store(tmp_path, database_url)
    cli("train", "--models", "popular,item_knn", data_dir=tmp_path, database_url=database_url)

    out = cli("status", data_dir=tmp_path, database_url=database_url)
    assert out.startswith(f"store: {database_url.split(':')[0]}, models in {tmp_path / 'models'}")
    assert "?options" not in out  # the database URL is not printed
    assert f"users 24, items 30, events {n_events}, relations 2" in out
    lines = out.splitlines()
    recommended = next(line for line in lines if line.startswith("  recommended: "))
    assert "item_knn/v0001 (item_knn), age " in recommended and "ndcg@10 0." in recommended
    assert any(line.startswith("  popular: popular/v0001 (popular)") for line in lines)
    assert "last training job: " in out and " succeeded (cli)" in out

    report = json.loads(cli("status", "--json", data_dir=tmp_path, database_url=database_url))
    assert report["counts"] == {"users": 24, "items": 30, "events": n_events, "relations": 2}
    champion = report["champions"]["recommended"]
    assert champion["model"] == "item_knn/v0001" and champion["family"] == "item_knn"
    assert 0 <= champion["age_seconds"] < 600 and 0 < champion["metrics"]["ndcg@10"] <= 1


def test_status_reports_an_unreachable_server(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["status", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1 and "cannot reach http://127.0.0.1:9" in result.output


def test_status_of_a_running_server(tmp_path: Path) -> None:
    fill_store(tmp_path)
    cli("train", "--models", "popular,item_knn", data_dir=tmp_path)
    keys = json.dumps([{"key": "admin-key-0123456789", "scopes": ["admin"]}])
    env = {"RECSERVE_API_KEYS": keys, "RECSERVE_METRICS_PUBLIC": "false"}
    with live_server("serve", data_dir=tmp_path, **env) as (base, _):
        headers = {"X-API-Key": "admin-key-0123456789"}
        for user in ("u00", "u01", "u02"):
            assert httpx.get(f"{base}/v1/users/{user}/feedback", headers=headers).is_success

        denied = cli("status", "--url", base, data_dir=tmp_path)
        assert (
            "health: ok" in denied and "metrics: unavailable (HTTP 401 missing_api_key)" in denied
        )

        out = cli("status", "--url", base, "--api-key", "admin-key-0123456789", data_dir=tmp_path)
        assert f"server: {base}" in out and "health: ok" in out
        assert "recommended: item_knn/v0001" in out and "popular: popular/v0001" in out
        assert "GET /v1/users/{user_id}/feedback: 3" in out
        report = json.loads(
            cli("status", "--url", base, "--api-key", "admin-key-0123456789", "--json",
                data_dir=tmp_path)
        )  # fmt: skip
        assert report["metrics"]["requests_by_route"]["GET /v1/users/{user_id}/feedback"] == 3
        assert report["metrics"]["models_served"]["recommended"] == "item_knn/v0001"
    log = (tmp_path / "server.log").read_text()
    assert "admin-key-0123456789" not in log and "recserve.access" in log
