"""``recserve evaluate`` and the data-set loading behind it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from recserve.cli import main
from recserve.data import Dataset
from recserve.evaluation.leaderboard import Leaderboard
from recserve.importers import ImportValidationError, import_rows
from recserve.importers.datasets import (
    DATASETS_ENV,
    DatasetNotFound,
    datasets_dir,
    load_dataset,
)
from recserve.store import Store
from tests.conftest import dataset_path

SMALL_DEMO = ["--dataset", "demo", "--demo-users", "200", "--demo-items", "300"]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write_small_source(directory: Path) -> Path:
    """Items, users, events (one repeated event_id) and relations as JSONL files."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    items = [
        {"item_id": f"i{i}", "title": f"item {i}", "categories": [f"c{i % 3}"]} for i in range(30)
    ]
    users = [{"user_id": "u-lonely", "attributes": {"age": 30}}]
    events = []
    for u in range(40):
        for n, i in enumerate(rng.choice(30, 6, replace=False)):
            kind = "like" if (i % 3) == (u % 3) else "view"
            events.append(
                {
                    "event_id": f"e{u}-{n}",
                    "user_id": f"u{u}",
                    "item_id": f"i{i}",
                    "type": kind,
                    "timestamp": 1_700_000_000 + 3600 * (u * 10 + n),
                }
            )
    events.append(dict(events[0], item_id="i29"))  # same event_id: skipped as a duplicate
    relations = [{"user_id": "u1", "other_user_id": "u2", "type": "friend"}] * 2
    for name, rows in (
        ("items", items),
        ("users", users),
        ("events", events),
        ("relations", relations),
    ):
        (directory / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return directory


def test_evaluate_the_small_demo_writes_report_and_json(tmp_path: Path) -> None:
    report, out = tmp_path / "report.html", tmp_path / "sub" / "board.json"
    result = invoke(
        "evaluate",
        *SMALL_DEMO,
        "--models",
        "popular,item_knn,knn2=user_knn",
        "--report",
        str(report),
        "--json",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "ranked by ndcg@10" in result.stdout and "NDCG@10" in result.stdout
    assert "[1/3] popular: ndcg@10" in result.stderr and "200 users, 300 items" in result.stderr
    table = result.stdout.splitlines()
    assert any(line.startswith("1  ") for line in table)
    header = next(line for line in table if line.startswith("#  model"))
    cutoffs = {label.partition("@")[2] for label in header.split() if "@" in label}
    assert cutoffs == {"10"}  # one K in every column (default --k 10)
    board = Leaderboard.from_json(out.read_text())
    assert {e.name for e in board.entries} == {"popular", "item_knn", "knn2"}
    assert all(e.ok for e in board.entries) and board.dataset["name"] == "demo"
    html = report.read_text()
    assert "<svg" in html and "knn2" in html and "https://" not in html


def test_evaluate_a_jsonl_folder_with_another_split(tmp_path: Path) -> None:
    source = write_small_source(tmp_path / "shop")
    out = tmp_path / "board.json"
    result = invoke(
        "evaluate",
        "--dataset",
        str(source),
        "--split",
        "random_holdout",
        "--models",
        "popular,item_knn",
        "--k",
        "5",
        "--json",
        str(out),
    )
    assert result.exit_code == 0, result.output
    board = json.loads(out.read_text())
    assert board["ks"] == [5] and board["metric"] == "ndcg@5"
    assert board["split"]["name"] == "random_holdout" and board["dataset"]["name"] == "shop"


def test_evaluate_the_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    missing = invoke("--data-dir", str(data_dir), "evaluate", "--dataset", "store")
    assert missing.exit_code == 1 and f"data directory {data_dir} does not exist" in missing.output
    assert not data_dir.exists()  # read-only: nothing was created
    data_dir.mkdir()
    no_store = invoke("evaluate", "--dataset", "store", "--data-dir", str(data_dir))
    assert no_store.exit_code == 1 and "no store at" in no_store.output
    assert list(data_dir.iterdir()) == []
    store = Store.open(f"sqlite:///{(data_dir / 'recserve.sqlite').resolve()}")
    empty = invoke("--data-dir", str(data_dir), "evaluate", "--dataset", "store")
    assert empty.exit_code == 1 and "no feedback events" in empty.output
    try:
        shop = write_small_source(tmp_path / "shop")
        rows = [json.loads(line) for line in (shop / "events.jsonl").read_text().splitlines()]
        import_rows(store, events=rows)
    finally:
        store.close()
    result = invoke(
        "--data-dir",
        str(data_dir),
        "evaluate",
        "--dataset",
        "store",
        "--models",
        "popular,item_knn",
        "--tune-seconds",
        "0.5",
    )
    assert result.exit_code == 0, result.output
    assert "item_knn" in result.stdout and "store, leave_last_out split" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--dataset", "nowhere-42"], 1, "known data sets: movielens-100k"),
        ([*SMALL_DEMO, "--models", "popular,nope"], 2, "unknown model family 'nope'"),
        ([*SMALL_DEMO, "--k", "ten"], 2, "K must be positive"),
        ([*SMALL_DEMO, "--metric", "ndcg"], 2, "cut-off"),
        ([*SMALL_DEMO, "--split", "sideways"], 2, "sideways"),
        ([*SMALL_DEMO, "--tune-seconds", "-1"], 2, "--tune-seconds"),
        (["--dataset", "lastfm-2k", "--demo-users", "10"], 2, "--dataset demo only"),
    ],
)
def test_bad_input_gives_a_clear_error(args: list[str], code: int, message: str) -> None:
    result = invoke("evaluate", *args)
    assert result.exit_code == code and message in result.output
    assert "Traceback" not in result.output


def test_an_invalid_file_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "events.csv"
    bad.write_text("user_id,item_id,type,timestamp\nu1,i1,like,2020-01-01\nu2,i2,like,never\n")
    result = invoke("evaluate", "--dataset", str(bad))
    assert result.exit_code == 1 and "line 3" in result.output


# -- load_dataset ---------------------------------------------------------------------------


def _same(a: Dataset, b: Dataset) -> None:
    assert a.users.ids.tolist() == b.users.ids.tolist()
    assert a.items.ids.tolist() == b.items.ids.tolist()
    for name in ("user", "item", "kind", "weight", "timestamp", "is_rating"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.value, b.value)
    assert a.item_features is not None and b.item_features is not None
    assert a.item_features.titles == b.item_features.titles
    assert a.item_features.categories == b.item_features.categories
    assert a.relations is not None and b.relations is not None
    for x, y in zip(a.relations, b.relations, strict=True):
        np.testing.assert_array_equal(np.sort(x), np.sort(y))


def test_in_memory_loading_equals_importing_into_a_store(tmp_path: Path) -> None:
    source = write_small_source(tmp_path / "shop")
    memory = load_dataset(source)
    _same(memory, load_dataset(str(source), via_store=True))
    assert len(memory) == 240 and "u-lonely" in memory.users  # duplicate event skipped
    assert len(memory.relations[0]) == 1  # type: ignore[index]


def test_demo_and_unknown_names(tmp_path: Path) -> None:
    demo = load_dataset("demo", demo_users=50, demo_items=60)
    assert demo.n_users == 50 and demo.n_items == 60 and len(demo) > 0
    with pytest.raises(DatasetNotFound, match="known data sets: movielens-100k"):
        load_dataset("movielens-1b")
    with pytest.raises(DatasetNotFound):
        load_dataset(tmp_path / "missing.csv")
    bad = tmp_path / "events.jsonl"
    bad.write_text('{"user_id": "u", "item_id": "i", "type": "teleport"}\n')
    with pytest.raises(ImportValidationError, match="teleport"):
        load_dataset(bad)


def test_known_names_resolve_under_the_configured_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "sets" / "movielens-100k"
    folder.mkdir(parents=True)
    lines = ["1\t10\t5\t881250949", "2\t10\t3\t891717742", "1\t20\t4\t878887116"]
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path / "sets"))
    assert datasets_dir() == tmp_path / "sets"
    data = load_dataset("movielens-100k")
    assert (data.n_users, data.n_items, len(data)) == (2, 2, 3)
    with pytest.raises(DatasetNotFound, match="lastfm-2k"):
        load_dataset("lastfm-2k")


@pytest.mark.slow
def test_movielens_100k_loads_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    path = dataset_path("movielens-100k")
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    monkeypatch.chdir(path.parent.parent.parent)  # the folder that holds shared/
    data = load_dataset("movielens-100k")
    assert (len(data), data.n_users, data.n_items) == (100_000, 943, 1_682)
    assert int(data.is_rating.sum()) == 100_000
    assert data.item_features is not None and data.item_features.titles[0]


@pytest.mark.slow
def test_neural_models_rank_on_the_same_board_as_classic_ones(tmp_path: Path) -> None:
    """The deep and sequential families go through the same split, metrics and table."""
    pytest.importorskip("torch")
    out = tmp_path / "board.json"
    neural = ("sasrec", "gru4rec", "two_tower", "fm_ranker")
    result = invoke(
        "evaluate",
        *SMALL_DEMO,
        "--models",
        ",".join(("popular", "item_knn", *neural)),
        *(arg for family in neural for arg in ("--param", f"{family}.epochs=2")),
        "--param",
        "two_tower.use_text=false",
        "--json",
        str(out),
    )
    assert result.exit_code == 0, result.output
    board = Leaderboard.from_json(out.read_text())
    entries = {e.name: e for e in board.entries}
    assert set(entries) == {"popular", "item_knn", *neural}
    for name in neural:
        assert entries[name].ok, entries[name]
        assert entries[name].params["epochs"] == 2
        assert 0.0 < entries[name].metrics["ndcg@10"] <= 1.0
        assert name in result.stdout


def test_a_malformed_param_is_a_usage_error() -> None:
    result = CliRunner().invoke(
        main, ["evaluate", *SMALL_DEMO, "--models", "popular", "--param", "popular=3"]
    )
    assert result.exit_code == 2 and "expected name.key=value" in result.output
    result = CliRunner().invoke(
        main, ["evaluate", *SMALL_DEMO, "--models", "popular", "--param", "als.factors=3"]
    )
    assert result.exit_code == 2 and "no model named 'als'" in result.output
