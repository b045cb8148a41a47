"""The experiments repository on SQLite and PostgreSQL: definitions and their states, the
served-list log, the SQL attribution of events to variants, and privacy deletes."""

from __future__ import annotations

import pytest

from recserve.experiments import Experiment, Variant, experiment_metrics
from recserve.store import Store
from recserve.store.experiments import ExperimentConflict


@pytest.fixture
def store(database_url: str):
    store = Store.open(database_url)
    yield store
    store.close()


def _experiment(experiment_id: str = "e1", status: str = "running") -> Experiment:
    return Experiment(
        experiment_id=experiment_id,
        scenario="recommended",
        variants=(Variant("A", 0.5), Variant("B", 0.5, model="ease/v0001")),
        status=status,
    )


def _list(rid: str, variant: str, user: str, items: list[str], experiment: str = "e1") -> dict:
    return {
        "recommendation_id": rid,
        "experiment_id": experiment,
        "variant": variant,
        "user_id": user,
        "model": "m/v0001",
        "items": items,
        "served_at": 1.0,
    }


def _event(i: int, rid: str | None, item: str, kind: str = "click", user: str = "u") -> dict:
    return {
        "event_id": f"ev{i}",
        "user_id": user,
        "item_id": item,
        "type": kind,
        "value": None,
        "timestamp": 1_700_000_000.0 + i,
        "recommendation_id": rid,
    }


def test_states_and_conflicts(store: Store) -> None:
    repo = store.experiments
    row = repo.create(_experiment().to_row())
    assert row["started_at"] is not None and row["stopped_at"] is None
    with pytest.raises(ExperimentConflict) as taken:
        repo.create(_experiment().to_row())
    assert taken.value.code == "experiment_exists"
    with pytest.raises(ExperimentConflict) as busy:
        repo.create(_experiment("e2").to_row())
    assert busy.value.code == "scenario_busy"
    draft = repo.create(_experiment("e3", status="draft").to_row())  # a draft may wait
    assert draft["status"] == "draft"
    with pytest.raises(ExperimentConflict):
        repo.start("e3")
    assert [r["experiment_id"] for r in repo.running()] == ["e1"]
    stopped = repo.stop("e1")
    assert stopped is not None and stopped["status"] == "stopped" and stopped["stopped_at"]
    assert repo.stop("e1") == stopped  # idempotent
    started = repo.start("e3")
    assert started is not None and started["status"] == "running"
    with pytest.raises(ExperimentConflict) as final:
        repo.start("e1")
    assert final.value.code == "experiment_stopped"
    assert repo.start("nope") is None and repo.stop("nope") is None and repo.get("nope") is None
    assert {r["experiment_id"] for r in repo.recent()} == {"e1", "e3"}
    assert [r["experiment_id"] for r in repo.recent("stopped")] == ["e1"]
    again = Experiment.from_row(repo.get("e3") or {})
    assert again.variants == _experiment().variants


def test_events_are_attributed_to_listed_items_of_the_right_types(store: Store) -> None:
    repo = store.experiments
    experiment = Experiment.from_row(repo.create(_experiment().to_row()))
    repo.log_lists(
        [
            _list("r1", "A", "u1", ["a", "b"]),
            _list("r2", "A", "u2", ["a", "c"]),
            _list("r3", "B", "u3", ["b", "c"]),
            _list("r4", "B", "u4", ["d"]),
            _list("x1", "A", "u5", ["a"], experiment="other"),
        ]
    )
    store.feedback.add(
        [
            _event(1, "r1", "a"),  # A: a click on a listed item
            _event(2, "r1", "b"),  # a second click on the same list: one clicked list
            _event(3, "r2", "z"),  # not a listed item: not counted
            _event(4, "r2", "a", kind="dislike"),  # not a click type
            _event(5, "r3", "c", kind="like"),  # B: like counts as a click
            _event(6, "r3", "c", kind="purchase"),  # and a conversion
            _event(7, None, "d"),  # no recommendation_id
            _event(8, "x1", "a"),  # another experiment's list
            _event(9, "r9", "a"),  # an unknown list
        ]
    )
    counts = repo.variant_counts("e1", ["click", "like"], ["purchase"])
    assert counts == {
        "A": {"lists": 2, "clicked_lists": 1, "converted_lists": 0, "clicks": 2, "conversions": 0},
        "B": {"lists": 2, "clicked_lists": 1, "converted_lists": 1, "clicks": 1, "conversions": 1},
    }
    metrics = experiment_metrics(repo, experiment)
    a, b = metrics["variants"]
    assert (a["variant"], a["impressions"], a["ctr"]["rate"]) == ("A", 2, 0.5)
    assert b["conversion_rate"]["rate"] == 0.5 and b["clicks"] == 1
    (comparison,) = metrics["comparisons"]
    assert comparison["baseline"] == "A" and comparison["ctr_difference"] == 0.0


def test_metrics_of_an_experiment_with_no_traffic(store: Store) -> None:
    experiment = Experiment.from_row(store.experiments.create(_experiment().to_row()))
    metrics = experiment_metrics(store.experiments, experiment)
    assert [v["impressions"] for v in metrics["variants"]] == [0, 0]
    assert metrics["variants"][0]["ctr"]["rate"] is None
    assert metrics["comparisons"][0]["ctr_p_value"] is None


def test_deleting_a_user_deletes_the_lists_served_to_them(store: Store) -> None:
    store.users.upsert([{"user_id": "u1"}, {"user_id": "u2"}])
    store.experiments.log_lists([_list("r1", "A", "u1", ["a"]), _list("r2", "B", "u2", ["a"])])
    assert [r["recommendation_id"] for r in store.experiments.user_lists("u1")] == ["r1"]
    assert store.delete_user("u1")
    assert store.experiments.user_lists("u1") == []
    assert store.experiments.lists_of("e1") == 1
