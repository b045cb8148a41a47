"""Bad rows: located by file and line, the first 20 listed, and nothing written at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from recserve.config import FeedbackKind, FeedbackType
from recserve.importers import ImportValidationError, import_rows, import_source
from recserve.store import Store
from tests.importers.helpers import write_jsonl, write_lines

HEADER = "user_id,item_id,type,value,timestamp,event_id"


def _good(n: int) -> list[str]:
    return [f"u{i % 3},i{i % 5},rating,4,1700000000,e{i}" for i in range(n)]


def _refused(store: Store, path: Path, **kwargs) -> ImportValidationError:
    before = store.counts()
    with pytest.raises(ImportValidationError) as info:
        import_source(store, path, **kwargs)
    assert store.counts() == before, "a refused file must not write a single row"
    return info.value


def test_bad_value_is_reported_with_file_and_line(store: Store, tmp_path: Path) -> None:
    lines = [HEADER, *_good(15), "u1,i1,rating,lots,1700000000,e99", *_good(3)]
    path = write_lines(tmp_path / "ratings.csv", lines)
    error = _refused(store, path, batch_size=4)  # several batches would be good before it
    assert error.total == 1
    assert error.problems[0].startswith(
        "ratings.csv line 17: value: Input should be a valid number"
    )
    assert "ratings.csv line 17" in str(error) and "nothing imported" in str(error)


def test_bad_file_after_good_files_writes_nothing(store: Store, tmp_path: Path) -> None:
    write_lines(tmp_path / "items.csv", ["item_id,title", "i1,Fine", "i2,Fine too"])
    write_lines(tmp_path / "events.csv", [HEADER, *_good(5), "u1,,rating,4,1700000000,e9"])
    error = _refused(store, tmp_path)
    assert error.problems == ["events.csv line 7: item_id: Field required"]  # empty cell: missing
    assert store.counts() == {"items": 0, "users": 0, "events": 0, "relations": 0}


def test_unknown_feedback_type_is_refused(store: Store, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "events.jsonl",
        [
            {"user_id": "u", "item_id": "i", "type": "like"},
            {"user_id": "u", "item_id": "i", "type": "wishlist"},
        ],
    )
    error = _refused(store, path)
    assert error.problems[0].startswith(
        "events.jsonl line 2: type: unknown feedback type 'wishlist'"
    )
    # with the type configured the same file goes in
    types = {
        "wishlist": FeedbackType(kind=FeedbackKind.POSITIVE),
        "like": FeedbackType(kind=FeedbackKind.POSITIVE),
    }
    assert import_source(store, path, feedback_types=types).events == 2


def test_only_the_first_twenty_problems_are_listed(store: Store, tmp_path: Path) -> None:
    lines = [HEADER, *(f"u,i,rating,4,not-a-time,e{i}" for i in range(30))]
    error = _refused(store, write_lines(tmp_path / "e.csv", lines))
    assert error.total == 30 and len(error.problems) == 20
    assert error.problems[0].startswith("e.csv line 2: timestamp: Value error, timestamp must be")
    assert error.problems[-1].startswith("e.csv line 21:")
    assert "and 10 more" in str(error)


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (["item_id,title", "i1,a,b"], "x.csv line 2: expected 2 fields, found 3"),
        (["item_id,attributes", "i1,{not json"], "x.csv line 2: attributes: not valid JSON"),
        (
            ["item_id,attributes", "i1,[1]"],
            "x.csv line 2: attributes: Input should be a valid dictionary",
        ),
        (["item_id,colour", "i1,red"], "x.csv line 2: colour: Extra inputs are not permitted"),
        (
            ["item_id,title", "", "i\x01,t"],
            "x.csv line 3: item_id: Value error, must not contain control",
        ),
        (["item_id,title", 'i1,"spans', 'two lines"', "i2,x,y"], "x.csv line 4: expected 2 fields"),
    ],
)
def test_csv_row_problems(store: Store, tmp_path: Path, lines: list[str], problem: str) -> None:
    error = _refused(store, write_lines(tmp_path / "x.csv", lines), kind="items")
    assert error.problems[0].startswith(problem), error.problems


def test_jsonl_row_problems(store: Store, tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "users.jsonl",
        ['{"user_id": "u1"}', "", "{broken", "[1, 2]", '{"user_id": "u2", "tags": "a"}'],
    )
    error = _refused(store, path, kind="users")
    assert [p.split(":")[0] for p in error.problems] == [
        "users.jsonl line 3",
        "users.jsonl line 4",
        "users.jsonl line 5",
    ]
    assert "not valid JSON" in error.problems[0] and "expected a JSON object" in error.problems[1]
    assert error.problems[2] == "users.jsonl line 5: tags: Input should be a valid list"


def test_in_memory_rows_are_checked_the_same_way(store: Store) -> None:
    with pytest.raises(ImportValidationError) as info:
        import_rows(
            store,
            items=[{"item_id": "a"}],
            events=[{"user_id": "u", "item_id": "a"}],
            source="demo",
        )
    assert info.value.problems == ["demo events row 1: type: Field required"]
    assert store.counts()["items"] == 0
