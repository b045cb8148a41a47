"""``recserve recommend``: the lists written for every user or a subset equal what the
API's per-user endpoint answers; unknown users are reported; Parquet is readable."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from recserve.algorithms import create
from recserve.api import create_app
from recserve.cli import main
from recserve.config import Settings
from recserve.data import Dataset
from recserve.registry import ModelRegistry
from recserve.store import Store
from tests.batch.conftest import COLD_USER


def run(data_dir: Path, *args: str) -> Any:
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "recommend", *args])
    return result


def endpoint_lists(data_dir: Path, users: list[str], n: int, path: str = "") -> dict[str, Any]:
    """Each user's answer from GET /v1/users/{id}/recommendations of a server on the folder."""
    with TestClient(create_app(Settings(data_dir=data_dir, model_poll_seconds=0))) as client:
        out = {}
        for user in users:
            url = path.format(user=user) or f"/v1/users/{user}/recommendations"
            response = client.get(url, params={"n": n, **({"user_id": user} if path else {})})
            assert response.status_code == 200, response.text
            out[user] = response.json()
        return out


def same_list(line: dict[str, Any], answer: dict[str, Any]) -> None:
    assert [i["item_id"] for i in line["items"]] == [i["item_id"] for i in answer["items"]]
    assert [i["score"] for i in line["items"]] == pytest.approx(
        [i["score"] for i in answer["items"]], rel=1e-5, abs=1e-6
    )
    assert line["model"] == answer["model"]


def test_every_user_gets_the_list_the_endpoint_answers(trained_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.jsonl"
    result = run(trained_dir, "--all", "--out", str(out), "--n", "7")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    users = [line["user_id"] for line in lines]
    assert len(users) == 25 and users == sorted(users) and COLD_USER in users
    assert f"wrote 25 users to {out}" in result.stdout
    assert "users" in result.stderr  # the progress bar goes to stderr
    answers = endpoint_lists(trained_dir, users, 7)
    for line in lines:
        assert len(line["items"]) == 7
        same_list(line, answers[line["user_id"]])
    cold = next(line for line in lines if line["user_id"] == COLD_USER)
    personal = next(line for line in lines if line["user_id"] == "u00")
    assert cold["model"].startswith("popular/") and not personal["model"].startswith("popular/")


def test_a_listed_subset_and_unknown_users_reported(trained_dir: Path, tmp_path: Path) -> None:
    listed = tmp_path / "users.txt"
    listed.write_text("u03\nnobody\nu17\n\nu03\n")
    out = tmp_path / "some.jsonl"
    result = run(trained_dir, "--users", str(listed), "--out", str(out), "--n", "5")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["user_id"] for line in lines] == ["u03", "u17"]
    assert "1 unknown users, no line written: nobody" in result.stderr
    answers = endpoint_lists(trained_dir, ["u03", "u17"], 5)
    for line in lines:
        same_list(line, answers[line["user_id"]])

    inline = run(trained_dir, "--users", "u17,u03", "--out", str(out), "--scenario", "popular")
    assert inline.exit_code == 0, inline.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["user_id"] for line in lines] == ["u17", "u03"]
    popular = endpoint_lists(trained_dir, ["u17", "u03"], 10, path="/v1/popular")
    for line in lines:
        same_list(line, popular[line["user_id"]])


def test_parquet_output_is_readable(trained_dir: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "recs.parquet"
    result = run(trained_dir, "--all", "--out", str(out), "--n", "3")
    assert result.exit_code == 0, result.output
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == 25
    jsonl = tmp_path / "recs.jsonl"
    assert run(trained_dir, "--all", "--out", str(jsonl), "--n", "3").exit_code == 0
    as_json = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert rows == as_json


def test_mistakes_get_clear_messages(trained_dir: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "x.jsonl")
    both = run(trained_dir, "--all", "--users", "u01", "--out", out)
    assert both.exit_code == 2 and "either --all or --users" in both.output
    too_many = run(trained_dir, "--all", "--out", out, "--n", "100000")
    assert too_many.exit_code == 2 and "max_n" in too_many.output
    missing = run(tmp_path / "typo", "--all", "--out", out)
    assert missing.exit_code == 1 and "does not exist" in missing.output
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    Store.open(f"sqlite:///{untrained / 'recserve.sqlite'}").close()  # a store, no models
    empty = run(untrained, "--all", "--out", out)
    assert empty.exit_code == 1 and "no model is trained" in empty.output
    assert not Path(out).exists()


def test_factor_models_and_experiment_variants(trained_dir: Path, tmp_path: Path) -> None:
    """Under an A/B experiment whose variant B is an ALS version, each user's variant
    answers as on the endpoint (both groups scored in one call each), and the export is
    not logged as served lists."""
    data_dir = tmp_path / "copy"
    shutil.copytree(trained_dir, data_dir)
    settings = Settings(data_dir=data_dir, model_poll_seconds=0)
    store = Store.open(settings.resolved_database_url)
    registry = ModelRegistry(settings.models_dir)
    try:
        data = Dataset.from_store(store, settings.feedback_types)
        als = registry.register("als", create("als", factors=8, iterations=5).fit(data))
        with TestClient(create_app(settings)) as client:
            body = {
                "experiment_id": "ab",
                "scenario": "recommended",
                "variants": [
                    {"name": "A", "share": 0.5, "model": "champion"},
                    {"name": "B", "share": 0.5, "model": als.ref},
                ],
            }
            assert client.post("/v1/experiments", json=body).status_code == 201
            assert client.post("/v1/experiments/ab/start").status_code == 200
        out = tmp_path / "ab.jsonl"
        result = run(data_dir, "--all", "--out", str(out), "--n", "6")
        assert result.exit_code == 0, result.output
        assert store.experiments.lists_of("ab") == 0  # nothing logged as served
    finally:
        store.close()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["variant"] for line in lines} == {"A", "B"}
    assert {line["experiment"] for line in lines} == {"ab"}
    answers = endpoint_lists(data_dir, [line["user_id"] for line in lines], 6)
    for line in lines:
        same_list(line, answers[line["user_id"]])
        assert line["variant"] == answers[line["user_id"]]["variant"]
    models = {line["variant"]: line["model"] for line in lines}
    assert models["B"] == als.ref and models["A"] != als.ref


def test_parquet_without_pyarrow_says_what_to_install(
    trained_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out = tmp_path / "recs.parquet"
    result = run(trained_dir, "--all", "--out", str(out))
    assert result.exit_code == 1 and "recserve[parquet]" in result.output
    assert not out.exists() and not list(tmp_path.glob(".recs.parquet*"))
