"""The shipped demo data: deterministic, realistic in shape, and learnable."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from recserve.algorithms import create
from recserve.config import default_feedback_types
from recserve.data import Dataset
from recserve.data.dataset import POSITIVE
from recserve.demo import DEFAULT_END, DemoData, generate, load_demo
from recserve.importers import import_source
from recserve.schemas import FeedbackCreate, ItemCreate, RelationCreate, UserCreate
from recserve.store import Store

DAY = 86_400.0


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate()


def _dataset(data: DemoData) -> Dataset:
    events = data.events
    column = lambda key: np.array([e[key] for e in events], dtype=object)  # noqa: E731
    values = np.array([np.nan if e["value"] is None else e["value"] for e in events])
    return Dataset.from_events(
        column("user_id"),
        column("item_id"),
        column("type"),
        values,
        np.array([e["timestamp"] for e in events]),
        default_feedback_types(),
    )


def test_same_seed_same_data_other_seed_other_data() -> None:
    small = {"n_users": 60, "n_items": 200}
    assert generate(seed=3, **small) == generate(seed=3, **small)
    assert generate(seed=4, **small).events != generate(seed=3, **small).events


def test_default_size(demo: DemoData) -> None:
    assert len(demo.items) == 2000 and len(demo.users) == 1000
    assert 50_000 < len(demo.events) < 120_000
    assert len({e["user_id"] for e in demo.events}) > 990


def test_every_row_passes_the_api_schemas(demo: DemoData) -> None:
    for model, rows in [
        (ItemCreate, demo.items),
        (UserCreate, demo.users),
        (RelationCreate, demo.relations),
        (FeedbackCreate, demo.events[::7]),
    ]:
        for row in rows:
            model.model_validate(row)
    assert {e["type"] for e in demo.events} <= set(default_feedback_types())


def test_catalogue_looks_like_a_shop(demo: DemoData) -> None:
    titles = [item["title"] for item in demo.items]
    assert len(set(titles)) == len(titles)
    departments = Counter(item["categories"][0] for item in demo.items)
    assert set(departments) == {"Books", "Films", "Music"}
    genres = {item["categories"][1] for item in demo.items}
    assert len(genres) == 18
    for item in demo.items[::50]:
        assert item["title"] in item["text"] and len(item["text"]) > 60
        assert len(item["tags"]) >= 3 and item["attributes"]["price"] > 0
        assert item["published_at"] < DEFAULT_END
    assert 0 < sum(item["hidden"] for item in demo.items) < 60


def test_popularity_is_long_tailed(demo: DemoData) -> None:
    counts = np.sort(np.bincount(_dataset(demo).item))[::-1]
    top_tenth = counts[: len(counts) // 10].sum() / counts.sum()
    bottom_half = counts[len(counts) // 2 :].sum() / counts.sum()
    assert top_tenth > 0.3 and bottom_half < 0.2


def test_events_fall_in_sessions_over_ninety_days(demo: DemoData) -> None:
    times = np.array([e["timestamp"] for e in demo.events])
    assert times.min() >= DEFAULT_END - 90 * DAY and times.max() <= DEFAULT_END
    assert np.all(np.diff(times) >= 0), "events come in time order"
    assert len(np.unique(((times - times.min()) // DAY).astype(int))) >= 85
    sessions: dict[str, list[dict]] = defaultdict(list)
    for e in demo.events:
        if e["session_id"] is not None:
            sessions[e["session_id"]].append(e)
    assert len(sessions) > 5 * len(demo.users)
    for events in list(sessions.values())[::20]:
        assert len({e["user_id"] for e in events}) == 1
        assert events[-1]["timestamp"] - events[0]["timestamp"] < 3 * 3600
    assert len({e["event_id"] for e in demo.events}) == len(demo.events)


def test_event_types_and_values(demo: DemoData) -> None:
    types = Counter(e["type"] for e in demo.events)
    assert set(types) == {"view", "click", "add_to_cart", "purchase", "like", "rating", "dislike"}
    assert (
        types["view"] > types["click"] > types["add_to_cart"] >= types["purchase"] > types["rating"]
    )
    ratings = {e["value"] for e in demo.events if e["type"] == "rating"}
    assert ratings == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert all(e["value"] is None for e in demo.events if e["type"] != "rating")


def test_friends_have_similar_tastes(demo: DemoData) -> None:
    edges = {(r["user_id"], r["other_user_id"]) for r in demo.relations}
    assert all((b, a) in edges for a, b in edges), "friendship is stored in both directions"
    assert all(r["type"] == "friend" for r in demo.relations)
    genre_of = {item["item_id"]: item["categories"][1] for item in demo.items}
    genres = sorted(set(genre_of.values()))
    users = sorted({u["user_id"] for u in demo.users})
    row = {u: i for i, u in enumerate(users)}
    profile = np.zeros((len(users), len(genres)))
    positive = {"click", "like", "add_to_cart", "purchase"}
    for e in demo.events:
        if e["type"] in positive:
            profile[row[e["user_id"]], genres.index(genre_of[e["item_id"]])] += 1
    profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-9)
    a = np.array([row[u] for u, _ in edges])
    b = np.array([row[v] for _, v in edges])
    friends = np.einsum("ij,ij->i", profile[a], profile[b]).mean()
    rng = np.random.default_rng(0)
    x, y = rng.integers(len(users), size=(2, 20_000))
    strangers = np.einsum("ij,ij->i", profile[x], profile[y]).mean()
    assert friends > 1.5 * strangers, (friends, strangers)


def _hit_rate(model_family: str, train: Dataset, users: np.ndarray, truth: np.ndarray) -> float:
    model = create(model_family).fit(train)
    ids, _ = model.recommend(users, n=10, exclude=train.seen_matrix()[users])
    return float((ids == truth[:, None]).any(axis=1).mean())


def test_item_knn_beats_popular(demo: DemoData) -> None:
    """Leave each user's last positive item out; hit rate at 10 over all items not seen."""
    data = _dataset(demo)
    positive = np.flatnonzero(data.kind == POSITIVE)
    by_user_time = positive[np.lexsort((data.timestamp[positive], data.user[positive]))]
    last = by_user_time[np.r_[data.user[by_user_time][1:] != data.user[by_user_time][:-1], True]]
    users, truth = data.user[last], data.item[last]
    held_out = np.zeros((data.n_users, data.n_items), dtype=bool)
    held_out[users, truth] = True
    train = data.subset(~held_out[data.user, data.item])  # every event on the held-out pair
    popular = _hit_rate("popular", train, users, truth)
    item_knn = _hit_rate("item_knn", train, users, truth)
    print(f"hit rate@10 on demo data: popular {popular:.3f}, item_knn {item_knn:.3f}")
    assert popular > 0.02, "popularity must carry some signal too"
    assert item_knn >= 1.3 * popular, (item_knn, popular)


def test_load_demo_is_validated_and_idempotent(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    small = {"seed": 1, "n_users": 80, "n_items": 300}
    data = generate(**small)
    report = load_demo(store, **small)
    assert (report.items, report.users, report.events) == (300, 80, len(data.events))
    assert report.relations == len(data.relations) and report.format == "rows"
    assert store.counts() == {
        "items": 300, "users": 80, "events": len(data.events), "relations": len(data.relations)
    }  # fmt: skip
    again = load_demo(store, **small)
    assert (again.events, again.duplicates) == (0, len(data.events))
    store.close()


def test_written_demo_imports_back(tmp_path: Path) -> None:
    data = generate(seed=2, n_users=50, n_items=200)
    data.write(tmp_path / "demo")
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    report = import_source(store, tmp_path / "demo")
    assert report.format == "jsonl"
    assert (report.items, report.users, report.events, report.relations) == (
        200, 50, len(data.events), len(data.relations)
    )  # fmt: skip
    item = store.items.get(data.items[0]["item_id"])
    assert item is not None and item["text"] == data.items[0]["text"]
    store.close()


def test_too_small_a_demo_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        generate(n_items=10)
