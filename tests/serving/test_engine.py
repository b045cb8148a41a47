"""The serving engine against a real SQLite store and registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from recserve.config import default_feedback_types
from recserve.registry import ModelRegistry
from recserve.serving import ModelNotReady, ServingEngine
from recserve.store import Store
from recserve.training import train_default_models
from tests.synthetic import BLOCKS, ITEMS_PER_BLOCK, USERS_PER_BLOCK


def _events():
    """Users of block b like items of block b (the synthetic structure, as store rows)."""
    rows = []
    for u in range(BLOCKS * USERS_PER_BLOCK):
        b = u // USERS_PER_BLOCK
        for k in range(6):
            item = b * ITEMS_PER_BLOCK + (u + k) % ITEMS_PER_BLOCK
            rows.append(
                {
                    "user_id": f"u{u}",
                    "item_id": f"i{item}",
                    "type": "like",
                    "timestamp": 1_600_000_000.0 + len(rows),
                    "event_id": f"e{len(rows)}",
                }
            )
    return rows


@pytest.fixture
def engine(tmp_path: Path) -> ServingEngine:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.feedback.add(_events())
    registry = ModelRegistry(tmp_path / "models")
    engine = ServingEngine(store, registry, default_feedback_types())
    with pytest.raises(ModelNotReady):
        engine.similar_items("i0", 5)
    early = engine.recommend("u0", 5)  # before training: popular, counted from the store
    assert early.model == "live_counts/untrained" and len(early.item_ids) == 5
    assert not {e[0] for e in store.feedback.user_history("u0")} & set(early.item_ids)
    train_default_models(store, registry, default_feedback_types())
    assert {"popular", "recommended", "similar_items"} <= set(engine.refresh())
    assert engine.ready
    return engine


def _block(item_id: str) -> int:
    return int(item_id[1:]) // ITEMS_PER_BLOCK


def test_recommendations_exclude_seen_and_follow_taste(engine: ServingEngine) -> None:
    seen = {e[0] for e in engine.store.feedback.user_history("u0")}
    result = engine.recommend("u0", 5)
    assert len(result.item_ids) == 5 and not set(result.item_ids) & seen
    assert [_block(i) for i in result.item_ids] == [0] * 5
    assert result.model == "item_knn/v0001" and len(result.recommendation_id) == 32


def test_a_new_event_changes_the_next_answer(engine: ServingEngine) -> None:
    first = engine.recommend("u0", 3).item_ids
    engine.store.feedback.add(
        [{"user_id": "u0", "item_id": first[0], "type": "dislike", "timestamp": 1.7e9}]
    )
    assert first[0] not in engine.recommend("u0", 3).item_ids


def test_cold_user_with_history_is_personalised_at_once(engine: ServingEngine) -> None:
    assert engine.recommend("brand-new", 3).model.startswith("popular/")
    engine.store.feedback.add(
        [
            {
                "user_id": "brand-new",
                "item_id": f"i{2 * ITEMS_PER_BLOCK + k}",
                "type": "like",
                "timestamp": 1.7e9,
            }
            for k in range(3)
        ]
    )
    result = engine.recommend("brand-new", 3)
    assert result.model.startswith("item_knn/")
    assert [_block(i) for i in result.item_ids] == [2, 2, 2]


def test_hidden_and_deleted_items_are_never_served(engine: ServingEngine) -> None:
    top = engine.popular(3).item_ids
    engine.store.items.patch(top[0], {"hidden": True})
    engine.set_item_blocked(top[0], True)
    engine.store.delete_item(top[1])
    engine.set_item_blocked(top[1], True)
    assert not {top[0], top[1]} & set(engine.popular(10).item_ids)
    similar = engine.similar_items(f"i{int(top[2][1:])}", 20).item_ids
    assert not {top[0], top[1]} & set(similar)
    engine.set_item_blocked(top[0], False)
    assert top[0] in engine.popular(3).item_ids


def test_a_loaded_champion_blocks_items_hidden_or_deleted_before_it_loaded(
    engine: ServingEngine,
) -> None:
    top = engine.popular(4).item_ids
    engine.store.items.patch(top[0], {"hidden": True})
    engine.store.delete_item(top[2])
    fresh = ServingEngine(engine.store, engine.registry, default_feedback_types())
    fresh.refresh()
    served = fresh.served()["popular"]
    assert served.model.items is not None
    expected = sorted(served.model.items.index([top[0], top[2]]).tolist())
    assert served.blocked.indices.tolist() == expected
    assert fresh.popular(2).item_ids == [top[1], top[3]]


def test_similar_items_and_unknown_item(engine: ServingEngine) -> None:
    result = engine.similar_items("i0", 4)
    assert len(result.item_ids) == 4 and "i0" not in result.item_ids
    assert {_block(i) for i in result.item_ids} == {0}
    unknown = engine.similar_items("not-in-model", 4)
    assert unknown.item_ids == [] and unknown.reason == "no_content"


def test_popular_excludes_what_the_user_saw(engine: ServingEngine) -> None:
    seen = {e[0] for e in engine.store.feedback.user_history("u3")}
    assert not seen & set(engine.popular(10, user_id="u3").item_ids)


def test_refresh_swaps_in_a_new_champion_and_skips_a_corrupt_one(engine: ServingEngine) -> None:
    registry = engine.registry
    train_default_models(engine.store, registry, default_feedback_types())
    assert {"popular", "recommended", "similar_items"} <= set(engine.refresh())
    assert engine.recommend("u0", 3).model == "item_knn/v0002"
    # a third version, corrupted after promotion: the engine keeps serving v0002
    train_default_models(engine.store, registry, default_feedback_types())
    arrays = registry.root / "item_knn" / "v0003" / "arrays.npz"
    arrays.write_bytes(b"garbage")
    assert "recommended" not in engine.refresh()
    assert engine.recommend("u0", 3).model == "item_knn/v0002"


def test_live_counters_count_positive_events_only(engine: ServingEngine) -> None:
    def score(item: str) -> float:
        result = engine.popular(30)
        return result.scores[result.item_ids.index(item)]

    before = score("i5")
    engine.observe_feedback(
        [
            {"user_id": "n1", "item_id": "i5", "type": "dislike", "value": None},
            {"user_id": "n2", "item_id": "i5", "type": "rating", "value": 2.0},
            {"user_id": "n3", "item_id": "i5", "type": "view", "value": None},
            {"user_id": "n4", "item_id": "i5", "type": "no-such-type", "value": None},
        ]
    )
    assert score("i5") == before
    engine.observe_feedback(
        [
            {"user_id": "n5", "item_id": "i5", "type": "rating", "value": 5.0},
            {"user_id": "n6", "item_id": "i5", "type": "purchase", "value": None},
            {"user_id": "n6", "item_id": "i5", "type": "like", "value": None},
            {"user_id": "n7", "item_id": "new-item", "type": "like", "value": None},
        ]
    )
    assert score("i5") == before + 2


def test_list_options_through_the_engine(engine: ServingEngine) -> None:
    from recserve.serving import ListOptions, parse_filter

    engine.store.items.upsert(
        [{"item_id": f"i{i}", "attributes": {"even": i % 2 == 0}} for i in range(30)]
    )
    engine.items_changed([f"i{i}" for i in range(30)])
    even = engine.recommend("u0", ListOptions(n=4, filter=parse_filter("even == true")))
    assert even.item_ids and all(int(i[1:]) % 2 == 0 for i in even.item_ids)
    whole = engine.recommend("u0", 6).item_ids
    assert engine.recommend("u0", ListOptions(n=3, offset=3)).item_ids == whole[3:]
    pinned = engine.recommend("u0", ListOptions(n=3, pins=(("i29", 2),)))
    assert pinned.item_ids[1] == "i29" and pinned.pinned == {"i29"}
