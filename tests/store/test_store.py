"""The store on SQLite and on the real PostgreSQL server (same tests, both engines)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

from recserve.store import InvalidCursor, Store
from recserve.store.database import MIGRATIONS_DIR, current_revision, migrate
from recserve.store.paging import encode_cursor


@pytest.fixture
def store(database_url: str):
    store = Store.open(database_url)
    yield store
    store.close()


def _event(i: int, user: str = "u1", item: str = "i1", **extra):
    return {
        "event_id": f"e{i}",
        "user_id": user,
        "item_id": item,
        "type": "like",
        "value": None,
        "timestamp": 1_600_000_000.0 + i,
        **extra,
    }


def head_revision() -> str:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrations_are_idempotent(store: Store) -> None:
    assert current_revision(store.engine) == head_revision()
    migrate(store.engine)  # a second run changes nothing
    assert current_revision(store.engine) == head_revision()


def test_migrations_build_the_schema_the_code_declares(store: Store) -> None:
    """Every table and column of ``schema.py`` exists after the migrations, so a table added
    to the code without a migration (or the reverse) fails here."""
    from recserve.store.schema import metadata
    from recserve.store.text_search import FTS_SHADOW_TABLES, FTS_TABLE

    inspector = sa.inspect(store.engine)
    full_text = {FTS_TABLE, *FTS_SHADOW_TABLES}  # SQLite's FTS5 index (migration 0006)
    migrated = set(inspector.get_table_names()) - {"alembic_version"} - full_text
    assert migrated == set(metadata.tables)
    for name, table in metadata.tables.items():
        columns = {c["name"] for c in inspector.get_columns(name)}
        assert columns == {c.name for c in table.columns}, name


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'wal.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    store.close()


def test_item_upsert_get_patch_delete(store: Store) -> None:
    assert store.items.upsert([{"item_id": "a", "title": "A", "categories": ["x"]}]) == 1
    first = store.items.get("a")
    assert first is not None and first["title"] == "A" and first["categories"] == ["x"]
    # replace keeps created_at, changes the rest
    store.items.upsert([{"item_id": "a", "title": "A2"}])
    again = store.items.get("a")
    assert again is not None
    assert (
        again["title"] == "A2"
        and again["categories"] == []
        and again["created_at"] == first["created_at"]
    )
    patched = store.items.patch("a", {"hidden": True, "not_a_column": 1})
    assert patched is not None and patched["hidden"] is True and patched["title"] == "A2"
    assert store.items.patch("missing", {"hidden": True}) is None
    assert store.delete_item("a") is True
    assert store.items.get("a") is None
    assert store.delete_item("a") is False


def test_batch_upsert_last_write_wins(store: Store) -> None:
    store.items.upsert([{"item_id": "a", "title": "one"}, {"item_id": "a", "title": "two"}])
    assert store.items.get("a")["title"] == "two"  # type: ignore[index]
    assert store.items.count() == 1


def test_cursor_paging_visits_every_row_once(store: Store) -> None:
    store.users.upsert([{"user_id": f"user-{i:03d}"} for i in range(25)])
    seen, cursor = [], None
    while True:
        rows, cursor = store.users.page(cursor, 7)
        seen += [r["user_id"] for r in rows]
        if cursor is None:
            break
    assert seen == sorted(f"user-{i:03d}" for i in range(25))
    with pytest.raises(InvalidCursor):
        store.users.page("%%%not-base64", 5)


def test_key_chunks_and_flagged_keys(store: Store) -> None:
    keys = [f"item-{i:03d}" for i in range(23)]
    store.items.upsert([{"item_id": k, "hidden": i % 5 == 0} for i, k in enumerate(keys)])
    for size in (1, 5, 23, 100):
        chunks = list(store.items.key_chunks(size))
        assert [k for chunk in chunks for k in chunk] == keys
        assert all(len(c) == size for c in chunks[:-1]) and 0 < len(chunks[-1]) <= size
    assert store.items.keys_flagged("hidden") == keys[::5]
    assert list(store.users.key_chunks(3)) == []


def test_all_rows_streams_every_row_with_the_columns_asked_for(store: Store) -> None:
    keys = [f"item-{i:03d}" for i in range(23)]
    store.items.upsert(
        [
            {"item_id": k, "title": k.upper(), "tags": [k], "attributes": {"n": i}}
            for i, k in enumerate(keys)
        ]
    )
    full = store.items.get_many(keys)
    for chunk_size in (1, 5, 100):
        every = store.items.all_rows(chunk_size=chunk_size)
        assert list(every) == keys and every == full
    some = store.items.all_rows(("title", "tags"))
    assert some == {k: {"item_id": k, "title": k.upper(), "tags": [k]} for k in keys}
    assert store.users.all_rows() == {}


def test_feedback_is_idempotent_on_event_id(store: Store) -> None:
    result = store.feedback.add([_event(1), _event(2, item="i2")])
    assert (result.accepted, result.duplicates) == (2, 0)
    result = store.feedback.add([_event(1), _event(3, item="i3"), _event(3, item="i3")])
    assert (result.accepted, result.duplicates) == (1, 2)
    assert store.feedback.count() == 3
    # events without an event_id are never deduplicated
    store.feedback.add([_event(0, event_id=None), _event(0, event_id=None)])
    assert store.feedback.count() == 5


def test_feedback_creates_unknown_users_and_items(store: Store) -> None:
    store.items.upsert([{"item_id": "i1", "title": "kept"}])
    store.feedback.add(
        [_event(1, user="new-user", item="i1"), _event(2, user="new-user", item="new-item")]
    )
    assert store.users.get("new-user") is not None
    assert store.items.get("new-item") is not None
    assert store.items.get("i1")["title"] == "kept"  # type: ignore[index]


def test_feedback_listing_newest_first_with_cursor(store: Store) -> None:
    store.feedback.add([_event(i, item=f"i{i}") for i in range(12)])
    rows, cursor = store.feedback.for_user("u1", limit=5)
    assert [r["item_id"] for r in rows] == [f"i{i}" for i in range(11, 6, -1)]
    rows2, _ = store.feedback.for_user("u1", cursor=cursor, limit=5)
    assert rows2[0]["item_id"] == "i6"
    assert store.feedback.user_history("u1")[0][0] == "i0"


def test_feedback_listing_is_by_event_time_not_arrival(store: Store) -> None:
    """A late import of older events lists after the newer live ones; events of the same
    time list the later stored first, and the cursor pages through ties without a gap."""
    offsets = [50, 10, 30, 30, 90, 0, 30, 70]  # arrival order; three events tie at 30
    store.feedback.add([_event(k, item=f"i{k}", timestamp=1_600_000_000.5 + t)
                        for k, t in enumerate(offsets)])  # fmt: skip
    expected = sorted(range(len(offsets)), key=lambda k: (-offsets[k], -k))
    seen, cursor = [], None
    while True:
        rows, cursor = store.feedback.for_user("u1", cursor=cursor, limit=3)
        seen += [r["event_id"] for r in rows]
        if cursor is None:
            break
    assert seen == [f"e{k}" for k in expected]
    rows, _ = store.feedback.for_item("i4")
    assert [r["event_id"] for r in rows] == ["e4"]
    with pytest.raises(InvalidCursor):
        store.feedback.for_user("u1", cursor=encode_cursor("12"))  # an old-style cursor


def test_user_events_are_the_history_as_columns(store: Store) -> None:
    """What serving reads for a user not in memory: every event, oldest first (ties in
    insertion order), values as floats with NaN where there is none; other users apart."""
    events = [
        _event(3, item="late"),
        _event(1, item="first"),
        _event(2, item="rated", type="rating", value=4.5),
        _event(4, item="tie-a", timestamp=1_600_000_010.0),
        _event(5, item="tie-b", timestamp=1_600_000_010.0),
        _event(6, user="u2", item="other"),
    ]
    store.feedback.add(events)
    columns = store.feedback.user_events("u1")
    history = store.feedback.user_history("u1")
    in_order = ["first", "rated", "late", "tie-a", "tie-b"]
    assert columns.item_ids == [e[0] for e in history] == in_order
    assert columns.types == ["like", "rating", "like", "like", "like"]
    assert columns.values.dtype == np.float64 and columns.values[1] == 4.5
    assert np.isnan(columns.values[[0, 2, 3, 4]]).all()
    assert len(store.feedback.user_events("nobody")) == 0


def test_delete_user_removes_events_and_relations(store: Store) -> None:
    store.feedback.add([_event(1, user="gone"), _event(2, user="stays")])
    store.relations.add(
        [
            {"user_id": "gone", "other_user_id": "stays"},
            {"user_id": "stays", "other_user_id": "gone"},
        ]
    )
    assert store.delete_user("gone") is True
    assert store.users.get("gone") is None
    assert store.feedback.user_history("gone") == []
    assert store.relations.for_user("stays") == []
    assert store.feedback.count() == 1


def test_relations_are_idempotent(store: Store) -> None:
    assert store.relations.add([{"user_id": "a", "other_user_id": "b"}]) == 1
    assert store.relations.add([{"user_id": "a", "other_user_id": "b", "type": "friend"}]) == 0
    assert store.relations.add([{"user_id": "a", "other_user_id": "b", "type": "follow"}]) == 1
    assert [r["type"] for r in store.relations.for_user("a")] == ["follow", "friend"]
    users, others, _types = store.relations.edges()
    assert sorted(zip(users, others, strict=True)) == [("a", "b"), ("a", "b")]


def test_event_columns_snapshot(store: Store) -> None:
    store.feedback.add([_event(1), _event(2, item="i2", type="rating", value=4.5)])
    cols = store.feedback.columns(chunk_size=1)
    assert len(cols) == 2
    assert list(cols.item_ids) == ["i1", "i2"]
    assert list(cols.types) == ["like", "rating"]
    assert cols.values[1] == 4.5 and cols.values[0] != cols.values[0]  # NaN for no value


def test_concurrent_batches_lose_nothing(store: Store) -> None:
    """Writers in several threads with overlapping users and items: every event stored once."""

    def write(worker: int) -> None:
        for batch in range(5):
            store.feedback.add(
                [
                    _event(worker * 1000 + batch * 100 + k, user=f"u{k % 7}", item=f"i{k % 11}")
                    for k in range(50)
                ]
            )

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.feedback.count() == 4 * 5 * 50
    assert store.users.count() == 7 and store.items.count() == 11


def test_ping(store: Store) -> None:
    assert store.ping() is True
