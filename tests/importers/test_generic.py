"""Generic CSV and JSONL files: each kind, kind guessing, format detection, idempotency."""

from __future__ import annotations

from pathlib import Path

import pytest

from recserve.importers import (
    ImportValidationError,
    UnknownFormatError,
    detect_format,
    import_source,
)
from recserve.store import Store
from tests.importers.helpers import write_jsonl, write_lines

EVENTS_CSV = [
    "user_id,item_id,type,value,timestamp,event_id,session_id,recommendation_id",
    "u1,i1,rating,4.5,2024-01-02T03:04:05Z,e1,s1,",
    "u1,i2,click,,1700000000,e2,s1,rec-7",
    "u2,i1,purchase,,1700000100.5,e3,,",
]


def test_csv_events_create_users_and_items(store: Store, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "events.csv", EVENTS_CSV)
    report = import_source(store, path)
    assert (report.events, report.duplicates, report.format) == (3, 0, "csv")
    assert store.counts() == {"items": 2, "users": 2, "events": 3, "relations": 0}
    rows = {r["event_id"]: r for r in store.feedback.for_user("u1")[0]}
    assert rows["e1"]["value"] == 4.5 and rows["e1"]["timestamp"] == 1704164645.0
    assert rows["e1"]["session_id"] == "s1" and rows["e1"]["recommendation_id"] is None
    assert rows["e2"]["value"] is None and rows["e2"]["recommendation_id"] == "rec-7"


def test_progress_bars_go_to_stderr(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_source(store, write_lines(tmp_path / "events.csv", EVENTS_CSV), progress=True)
    err = capsys.readouterr().err
    assert "checking events.csv" in err and "importing events.csv" in err


def test_reimport_is_idempotent_on_event_id(store: Store, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "events.csv", EVENTS_CSV)
    import_source(store, path)
    again = import_source(store, path)
    assert (again.events, again.duplicates) == (0, 3)
    assert store.feedback.count() == 3
    assert str(again).startswith("0 items, 0 users, 0 events (3 duplicates skipped), 0 relations")


def test_csv_items_lists_and_json_attributes(store: Store, tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "catalogue.csv",
        [
            "item_id,title,text,categories,tags,attributes,published_at,hidden",
            'i1,"Dune, Part One",A desert planet.,Books|Science Fiction,classic| space ,'
            '"{""price"": 9.5, ""author"": ""Herbert""}",1965-08-01T00:00:00Z,false',
            "i2,Plain,,,,,,true",
        ],
    )
    too_old = tmp_path / "too_old.csv"
    too_old.write_text(path.read_text().replace("1965", "1765"))
    with pytest.raises(ImportValidationError, match="published_at"):  # the API refuses it too
        import_source(store, too_old)
    report = import_source(store, path)
    assert report.items == 2 and report.format == "csv"
    one = store.items.get("i1")
    assert one is not None
    assert one["title"] == "Dune, Part One" and one["categories"] == ["Books", "Science Fiction"]
    assert one["tags"] == ["classic", "space"]
    assert one["attributes"] == {"price": 9.5, "author": "Herbert"}
    two = store.items.get("i2")
    assert two is not None and two["hidden"] is True and two["text"] is None
    assert two["categories"] == [] and two["attributes"] == {}


def test_jsonl_users_and_relations(store: Store, tmp_path: Path) -> None:
    users = write_jsonl(
        tmp_path / "people.jsonl",
        [{"user_id": "u1", "attributes": {"age": 31}, "tags": ["vip"]}, {"user_id": "u2"}],
    )
    relations = write_jsonl(
        tmp_path / "graph.ndjson",
        [
            {"user_id": "u1", "other_user_id": "u2"},
            {"user_id": "u2", "other_user_id": "u3", "type": "follow"},
        ],
    )
    assert import_source(store, users).users == 2
    report = import_source(store, relations)
    assert report.relations == 2 and report.format == "jsonl"
    assert store.users.get("u1")["attributes"] == {"age": 31}  # type: ignore[index]
    assert store.users.count() == 3  # u3 created by the relation
    types = {(r["user_id"], r["other_user_id"], r["type"]) for r in store.relations.for_user("u2")}
    assert types == {("u1", "u2", "friend"), ("u2", "u3", "follow")}


def test_jsonl_events_without_timestamp_get_the_import_time(store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "e.jsonl", [{"user_id": "u", "item_id": "i", "type": "like"}])
    import_source(store, path)
    (row,) = store.feedback.for_user("u")[0]
    assert row["timestamp"] > 1_700_000_000


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("user_id,item_id,type", "events"),
        ("user_id,other_user_id", "relations"),
        ("item_id,title", "items"),
        ("user_id,tags", "users"),
    ],
)
def test_kind_is_guessed_from_columns(store: Store, tmp_path: Path, header: str, kind: str) -> None:
    values = {"user_id": "u1", "item_id": "i1", "type": "view", "other_user_id": "u2",
              "title": "T", "tags": "a|b"}  # fmt: skip
    row = ",".join(values[c] for c in header.split(","))
    report = import_source(store, write_lines(tmp_path / "x.csv", [header, row]))
    assert getattr(report, kind) == 1


def test_explicit_kind_and_format(store: Store, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "data.txt", ["user_id", "u1", "u2"])
    with pytest.raises(UnknownFormatError, match="extension"):
        import_source(store, path)
    report = import_source(store, path, format="csv", kind="users")
    assert report.users == 2
    with pytest.raises(UnknownFormatError, match="kind"):
        import_source(store, path, format="csv", kind="nope")
    with pytest.raises(UnknownFormatError, match="format"):
        import_source(store, path, format="parquet")


def test_columns_that_say_nothing_need_a_kind(store: Store, tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match="give the kind"):
        import_source(store, write_lines(tmp_path / "x.csv", ["a,b", "1,2"]))


def test_directory_of_generic_files_in_kind_order(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    # events name an item that the items file describes: items must be written first so
    # the catalogue row, not a bare row, is what the store keeps
    write_jsonl(
        folder / "events.jsonl",
        [{"user_id": "u1", "item_id": "i1", "type": "like", "event_id": "e"}],
    )
    write_jsonl(folder / "items.jsonl", [{"item_id": "i1", "title": "Described"}])
    write_jsonl(folder / "relations.jsonl", [{"user_id": "u1", "other_user_id": "u2"}])
    write_lines(folder / "notes.csv", ["whatever"])  # not named by a kind: ignored
    assert detect_format(folder) == "jsonl"
    report = import_source(store, folder)
    assert (report.items, report.events, report.relations) == (1, 1, 1)
    assert store.items.get("i1")["title"] == "Described"  # type: ignore[index]


def test_directory_with_csv_and_jsonl_needs_a_format(store: Store, tmp_path: Path) -> None:
    write_lines(tmp_path / "items.csv", ["item_id,title", "i1,From CSV"])
    write_jsonl(tmp_path / "users.jsonl", [{"user_id": "u1"}])
    with pytest.raises(UnknownFormatError, match="both csv and jsonl"):
        import_source(store, tmp_path)
    report = import_source(store, tmp_path, format="csv")
    assert (report.items, report.users) == (1, 0)


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(write_lines(tmp_path / "a.CSV", ["x"])) == "csv"
    assert detect_format(write_lines(tmp_path / "a.ndjson", ["{}"])) == "jsonl"
    (tmp_path / "ml").mkdir()
    write_lines(tmp_path / "ml" / "u.data", ["1\t1\t5\t881250949"])
    assert detect_format(tmp_path / "ml") == "movielens-100k"
    write_lines(tmp_path / "mls" / "ratings.csv", ["userId,movieId,rating,timestamp"])
    write_lines(tmp_path / "mls" / "movies.csv", ["movieId,title,genres"])
    assert detect_format(tmp_path / "mls") == "movielens-latest-small"
    write_lines(tmp_path / "fm" / "user_artists.dat", ["userID\tartistID\tweight"])
    assert detect_format(tmp_path / "fm") == "lastfm-2k"
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnknownFormatError):
        detect_format(tmp_path / "empty")
    with pytest.raises(UnknownFormatError, match="does not exist"):
        detect_format(tmp_path / "missing.csv")


def test_small_generic_import_on_every_database(database_url: str, tmp_path: Path) -> None:
    store = Store.open(database_url)
    try:
        folder = tmp_path / "src"
        write_lines(folder / "items.csv", ["item_id,title,categories", "i1,One,a|b", "i2,Two,"])
        write_lines(folder / "users.csv", ["user_id,attributes", 'u1,"{""age"": 40}"'])
        write_lines(folder / "events.csv", EVENTS_CSV)
        write_lines(folder / "relations.csv", ["user_id,other_user_id,type", "u1,u2,friend"])
        report = import_source(store, folder, batch_size=2)
        assert (report.items, report.users, report.events, report.relations) == (2, 1, 3, 1)
        again = import_source(store, folder, batch_size=2)
        assert (again.events, again.duplicates, again.relations) == (0, 3, 0)
        assert store.counts() == {"items": 2, "users": 2, "events": 3, "relations": 1}
        assert store.items.get("i1")["categories"] == ["a", "b"]  # type: ignore[index]
    finally:
        store.close()


def test_parts_too_large_to_keep_are_read_twice(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import recserve.importers.core as core

    monkeypatch.setattr(core, "KEEP_VALIDATED_ROWS", 2)
    report = import_source(store, write_lines(tmp_path / "events.csv", EVENTS_CSV), batch_size=2)
    assert report.events == 3 and store.feedback.count() == 3
