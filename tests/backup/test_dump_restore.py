"""``recserve dump`` and ``recserve restore`` on SQLite and PostgreSQL: every table's rows
and the registry come back, the restored service answers the same lists, a dump taken
while events are posted is consistent, and a non-empty target is refused unless --force."""

from __future__ import annotations

import json
import tarfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.backup.archive import dumped_tables
from recserve.cli import main
from recserve.config import Settings
from recserve.store import Store
from tests.api.conftest import synthetic_events, train
from tests.conftest import POSTGRES_URL

USERS = [f"u{u:02d}" for u in range(0, 24, 3)]


@pytest.fixture
def second_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database of the same kind, to restore into."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def cli(data_dir: Path, url: str, *args: str) -> Any:
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), "--database-url", url, *args])


def app_client(data_dir: Path, url: str) -> TestClient:
    return TestClient(
        create_app(Settings(data_dir=data_dir, database_url=url, model_poll_seconds=0))
    )


def table_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            return {
                t.name: [
                    dict(r)
                    for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns)).mappings()
                ]
                for t in dumped_tables()
            }
    finally:
        store.close()


def populate(client: TestClient) -> None:
    """Every kind of user data: items with fields, users, events, relations, an experiment
    with served lists, a deleted user's mark, a training job, two trainings (history)."""
    items = [
        {"item_id": f"i{i:02d}", "title": f"Item {i}", "categories": ["c"], "attributes": {"k": i}}
        for i in range(30)
    ]
    assert client.post("/v1/items", json=items).status_code == 200
    assert (
        client.post("/v1/users", json=[{"user_id": "u00", "attributes": {"age": 30}}]).status_code
        == 200
    )
    events = [{**e, "event_id": f"e{k}"} for k, e in enumerate(synthetic_events())]
    events.append({"user_id": "gone", "item_id": "i01", "type": "like", "timestamp": 1.7e9})
    assert client.post("/v1/feedback", json=events).status_code == 200
    relations = [
        {"user_id": "u00", "other_user_id": "u01"},
        {"user_id": "u02", "other_user_id": "u00", "type": "follow"},
    ]
    assert client.post("/v1/relations", json=relations).status_code == 200
    assert client.delete("/v1/users/gone").status_code in (200, 204)
    train(client.app)  # type: ignore[arg-type]
    train(client.app)  # type: ignore[arg-type]  # a second champion: history.json
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    job = store.jobs.create({"models": None, "promote": "if_better"}, trigger="cli")
    store.jobs.finish(job["job_id"], {"note": "restored with the rest"})
    body = {
        "experiment_id": "ab",
        "scenario": "recommended",
        "variants": [
            {"name": "A", "share": 0.5, "model": "champion"},
            {"name": "B", "share": 0.5, "model": "popular/v0001"},
        ],
    }
    assert client.post("/v1/experiments", json=body).status_code == 201
    assert client.post("/v1/experiments/ab/start").status_code == 200
    for user in USERS:
        assert client.get(f"/v1/users/{user}/recommendations").status_code == 200


def served_lists(client: TestClient) -> dict[str, list[str]]:
    out = {}
    for user in USERS:
        body = client.get(f"/v1/users/{user}/recommendations", params={"n": 5}).json()
        out[user] = [(i["item_id"], body["model"], body["variant"]) for i in body["items"]]
    return out


def test_round_trip(database_url: str, second_url: str, tmp_path: Path) -> None:
    source, target, archive = tmp_path / "source", tmp_path / "target", tmp_path / "dump.tar.gz"
    with app_client(source, database_url) as client:
        populate(client)
    with app_client(source, database_url) as client:
        before = served_lists(client)

    dumped = cli(source, database_url, "dump", str(archive))
    assert dumped.exit_code == 0, dumped.output
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    tables = manifest["tables"]
    assert tables["events"] == 144 and tables["items"] == 30 and tables["relations"] == 2
    assert tables["experiments"] == 1 and tables["recommendation_log"] >= 1
    assert tables["forgotten_users"] == 1 and tables["training_jobs"] == 1
    assert manifest["registry"]["champions"]["recommended"].endswith("/v0002")

    restored = cli(target, second_url, "restore", str(archive))
    assert restored.exit_code == 0, restored.output
    assert table_rows(second_url) == table_rows(database_url)
    for name in ("champions.json", "history.json"):
        assert (target / "models" / name).read_text() == (source / "models" / name).read_text()
    source_files = sorted(
        p.relative_to(source / "models") for p in (source / "models").rglob("v*/*")
    )
    target_files = sorted(
        p.relative_to(target / "models") for p in (target / "models").rglob("v*/*")
    )
    assert source_files == target_files and len(source_files) > 10
    with app_client(target, second_url) as client:
        assert served_lists(client) == before
        # new events get new ids after the restored ones (PostgreSQL's sequence moved)
        posted = client.post(
            "/v1/feedback", json=[{"user_id": "u01", "item_id": "i02", "type": "like"}]
        )
        assert posted.status_code == 200, posted.text

    refused = cli(target, second_url, "restore", str(archive))
    assert refused.exit_code == 1 and "not empty" in refused.output and "--force" in refused.output
    forced = cli(target, second_url, "restore", str(archive), "--force")
    assert forced.exit_code == 0, forced.output
    assert table_rows(second_url) == table_rows(database_url)


def test_a_dump_taken_while_events_arrive_is_consistent(
    database_url: str, second_url: str, tmp_path: Path
) -> None:
    source, archive = tmp_path / "source", tmp_path / "dump.tar.gz"
    store = Store.open(database_url)
    store.feedback.add([{"user_id": "seed", "item_id": "i0", "type": "like", "timestamp": 1.7e9}])
    stop = threading.Event()
    posted = [0]

    def post() -> None:  # each batch brings a new user and a new item with its events
        k = 0
        while not stop.is_set():
            batch = [
                {"user_id": f"w{k}", "item_id": f"n{k}", "type": "like", "timestamp": 1.7e9 + j}
                for j in range(50)
            ]
            store.feedback.add(batch)
            posted[0] += len(batch)
            k += 1

    writer = threading.Thread(target=post)
    writer.start()
    try:
        while posted[0] < 500:  # the dump starts once writes are under way
            stop.wait(0.01)
        dumped = cli(source, database_url, "dump", str(archive))
        mid_dump = posted[0]
    finally:
        stop.set()
        writer.join()
        store.close()
    assert dumped.exit_code == 0, dumped.output
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert 1 + 500 <= manifest["tables"]["events"] <= 1 + mid_dump
    assert manifest["tables"]["events"] % 50 == 1  # whole batches only

    restored = cli(tmp_path / "target", second_url, "restore", str(archive))
    assert restored.exit_code == 0, restored.output
    rows = table_rows(second_url)
    assert {name: len(r) for name, r in rows.items()} == manifest["tables"]
    users = {r["user_id"] for r in rows["users"]}
    items = {r["item_id"] for r in rows["items"]}
    assert all(e["user_id"] in users and e["item_id"] in items for e in rows["events"])
    assert len(users) == (len(rows["events"]) - 1) // 50 + 1


def test_bad_archives_get_clear_messages(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    not_a_dump = tmp_path / "x.tar.gz"
    not_a_dump.write_bytes(b"plain text")
    result = cli(tmp_path / "d", url, "restore", str(not_a_dump))
    assert result.exit_code == 1 and "cannot read" in result.output
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    result = cli(tmp_path / "d", url, "restore", str(empty))
    assert result.exit_code == 1 and "manifest.json is missing" in result.output


@pytest.mark.postgres
def test_a_dump_moves_between_sqlite_and_postgresql(postgres_url: str, tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    store = Store.open(sqlite_url)
    try:
        store.items.upsert(
            [{"item_id": "i1", "title": "T", "categories": ["c"], "attributes": {"p": 1.5}}]
        )
        store.users.upsert([{"user_id": "u1", "tags": ["x"]}])
        store.feedback.add(
            [
                {
                    "user_id": "u1",
                    "item_id": "i1",
                    "type": "rating",
                    "value": 4.5,
                    "timestamp": 1.7e9,
                },
                {
                    "user_id": "u2",
                    "item_id": "i2",
                    "type": "like",
                    "timestamp": 1.7e9 + 0.25,
                    "event_id": "e",
                },
            ]
        )
        store.relations.add([{"user_id": "u1", "other_user_id": "u2", "type": "friend"}])
    finally:
        store.close()
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    assert cli(tmp_path / "a", sqlite_url, "dump", str(first)).exit_code == 0
    into_postgres = cli(tmp_path / "b", postgres_url, "restore", str(first))
    assert into_postgres.exit_code == 0, into_postgres.output
    assert table_rows(postgres_url) == table_rows(sqlite_url)
    assert cli(tmp_path / "b", postgres_url, "dump", str(second)).exit_code == 0
    back = f"sqlite:///{tmp_path / 'c.sqlite'}"
    assert cli(tmp_path / "c", back, "restore", str(second)).exit_code == 0
    assert table_rows(back) == table_rows(sqlite_url)
