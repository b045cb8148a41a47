"""Every serving scenario and the request path (filters, paging, diversity, pins, explain)
through HTTP, on the synthetic taste blocks of tests/api/conftest.py.

Item ``i{b}{k}`` is in block b, category ``genre-b``, with attributes ``price = k`` and
``color`` red for even k, blue for odd; user u00 likes i00..i04 and dislikes i10.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from recserve.algorithms import create
from recserve.data import Dataset
from tests.api.conftest import BLOCKS, ITEMS_PER_BLOCK, item_id, synthetic_events

LIKED_BY_U00 = {f"i0{k}" for k in range(5)}


def block_of(item: str) -> int:
    return int(item[1:]) // ITEMS_PER_BLOCK


def catalogue_rows() -> list[dict[str, Any]]:
    rows = []
    for i in range(BLOCKS * ITEMS_PER_BLOCK):
        k = i % ITEMS_PER_BLOCK
        rows.append(
            {
                "item_id": item_id(i),
                "categories": [f"genre-{i // ITEMS_PER_BLOCK}"],
                "attributes": {"price": k, "color": "red" if k % 2 == 0 else "blue"},
                "published_at": 1_500_000_000.0 + i * 86_400.0,
            }
        )
    return rows


def serve(
    client: TestClient, name: str, family: str, scenarios: tuple[str, ...], **params: Any
) -> str:
    """Fit ``family`` on everything in the store, register it and promote it to ``scenarios``."""
    state: Any = client.app.state  # type: ignore[attr-defined]
    data = Dataset.from_store(state.store, state.settings.feedback_types)
    model = create(family, **params).fit(data)
    version = state.registry.register(name, model)
    for scenario in scenarios:
        state.registry.promote(scenario, name, version.version)
    state.engine.refresh()
    return f"{name}/{version.version}"


def populate(client: TestClient) -> TestClient:
    """The catalogue, the synthetic events, and item-kNN and popular champions."""
    assert client.post("/v1/items", json=catalogue_rows()).status_code == 200
    assert client.post("/v1/feedback", json=synthetic_events()).status_code == 200
    serve(client, "item_knn", "item_knn", ("recommended", "similar_items"), neighbours=100)
    serve(client, "popular", "popular", ("popular",))
    return client


@pytest.fixture
def world(client: TestClient) -> TestClient:
    return populate(client)


def get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ids(body: dict[str, Any]) -> list[str]:
    return [entry["item_id"] for entry in body["items"]]


def recs(client: TestClient, **params: Any) -> list[str]:
    return ids(get(client, "/v1/users/u00/recommendations", **params))


# -- filters --------------------------------------------------------------------------------


def test_plain_recommendations_are_unseen_items_of_the_users_block(world: TestClient) -> None:
    body = get(world, "/v1/users/u00/recommendations", n=5)
    assert set(ids(body)) == {f"i0{k}" for k in range(5, 10)}
    assert body["model"].startswith("item_knn/") and len(body["recommendation_id"]) == 32
    assert body["offset"] == 0


def test_attribute_filter_expressions(world: TestClient) -> None:
    assert set(recs(world, n=3, filter="price >= 7")) == {"i07", "i08", "i09"}
    red = recs(world, n=2, filter="color == 'red'")
    assert set(red) == {"i06", "i08"}
    both = recs(world, n=30, filter='(color == "blue" and price < 7) or price in (8)')
    assert set(both) >= {"i05", "i08"} and "i06" not in both and "i09" not in both
    for item in both:
        k = int(item[2:])
        assert (k % 2 == 1 and k < 7) or k == 8
    negated = recs(world, n=30, filter="not color == 'red'")
    assert negated and all(int(i[2:]) % 2 == 1 for i in negated)
    assert recs(world, n=5, filter="missing_attribute == 1") == []
    genre2 = recs(world, n=5, filter="categories == 'genre-2' and price <= 1")
    assert sorted(genre2) == ["i20", "i21"]


def test_category_include_exclude_and_seen(world: TestClient) -> None:
    genre1 = recs(world, n=30, category="genre-1")
    assert genre1 and {block_of(i) for i in genre1} == {1} and "i10" not in genre1  # disliked
    assert recs(world, n=5, include=["i05", "i21", "i02"]) == ["i05", "i21"]  # i02: seen
    excluded = recs(world, n=5, exclude=["i05", "i06"])
    assert not {"i05", "i06"} & set(excluded) and {"i07", "i08", "i09"} <= set(excluded)
    with_seen = recs(world, n=10, exclude_seen="false")
    assert LIKED_BY_U00 & set(with_seen)
    assert not LIKED_BY_U00 & set(recs(world, n=30))


def test_hidden_items_and_attribute_changes_apply_at_once(world: TestClient) -> None:
    assert "i05" in recs(world, n=5)
    assert world.patch("/v1/items/i05", json={"hidden": True}).status_code == 200
    assert "i05" not in recs(world, n=30) and "i05" not in recs(world, n=30, category="genre-0")
    assert recs(world, n=5, filter="price >= 50") == []
    changed = world.patch("/v1/items/i09", json={"attributes": {"price": 100, "color": "red"}})
    assert changed.status_code == 200
    assert recs(world, n=5, filter="price >= 50") == ["i09"]
    world.post("/v1/items", json=[{"item_id": "i08", "categories": ["sale"]}])
    assert recs(world, n=5, category="sale") == ["i08"]


# -- paging, diversity, pins, explain -------------------------------------------------------


def test_pages_do_not_overlap_and_add_up_to_the_long_list(world: TestClient) -> None:
    whole = recs(world, n=12)
    pages = [recs(world, n=4, offset=offset) for offset in (0, 4, 8)]
    flat = [i for page in pages for i in page]
    assert flat == whole and len(set(flat)) == 12
    body = get(world, "/v1/popular", n=4, offset=4)
    assert body["offset"] == 4 and ids(body) == ids(get(world, "/v1/popular", n=8))[4:]


def test_diversity_mixes_categories(world: TestClient) -> None:
    plain = recs(world, n=3)
    assert {block_of(i) for i in plain} == {0}
    varied = recs(world, n=3, diversity=0.7)
    assert varied[0] == plain[0] and len({block_of(i) for i in varied}) >= 2
    assert len({block_of(i) for i in recs(world, n=3, diversity=1.0)}) == 3


def test_pinned_items_take_their_slots(world: TestClient) -> None:
    body = get(world, "/v1/users/u00/recommendations", n=5, pin=["i29:1", "i15:3"])
    items = ids(body)
    assert items[0] == "i29" and items[2] == "i15" and len(items) == 5
    assert [e["pinned"] for e in body["items"]] == [True, False, True, False, False]
    second = recs(world, n=5, offset=5, pin=["i29:1", "i15:3"])
    assert not set(second) & set(items) and "i29" not in second
    world.patch("/v1/items/i28", json={"hidden": True})
    assert "i28" not in recs(world, n=5, pin=["i28:1"])


def test_explanations_name_the_history_items_that_led_to_each_result(world: TestClient) -> None:
    body = get(world, "/v1/users/u00/recommendations", n=5, explain="true")
    for entry in body["items"]:
        explanation = entry["explanation"]
        assert explanation["reason"] == "history"
        reasons = [r["item_id"] for r in explanation["items"]]
        assert reasons and set(reasons) <= LIKED_BY_U00
        weights = [r["weight"] for r in explanation["items"]]
        assert weights == sorted(weights, reverse=True) and weights[0] > 0
    assert all(
        e["explanation"] is None for e in get(world, "/v1/users/u00/recommendations")["items"]
    )
    popular = get(world, "/v1/popular", n=3, explain="true")
    assert {e["explanation"]["reason"] for e in popular["items"]} == {"popular"}
    similar = get(world, "/v1/items/i00/similar", n=3, explain="true")
    for entry in similar["items"]:
        assert entry["explanation"] == {
            "reason": "similar_to",
            "items": [{"item_id": "i00", "weight": 1.0}],
            "detail": None,
        }
    pinned = get(world, "/v1/users/u00/recommendations", n=2, pin="i29:1", explain="true")
    assert pinned["items"][0]["explanation"]["reason"] == "pinned"


def test_explanations_of_a_factor_model_use_its_item_similarity(world: TestClient) -> None:
    ref = serve(world, "als", "als", ("recommended",), factors=8, iterations=10)
    body = get(world, "/v1/users/u00/recommendations", n=3, explain="true")
    assert body["model"] == ref
    for entry in body["items"]:
        explanation = entry["explanation"]
        assert explanation["reason"] in ("similar_to_history", "popular")
        assert {r["item_id"] for r in explanation["items"]} <= LIKED_BY_U00
    assert any(e["explanation"]["reason"] == "similar_to_history" for e in body["items"])


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "price <",
        "price < 'cheap'",
        "__import__('os').system('true')",
        "price == 1 and",
        "(price == 1",
        "price = 1",
        "price == 1 ; drop",
        "in in in",
        "(" * 300 + "price == 1" + ")" * 300,
        "not " * 300 + "price == 1",
        "",
    ],
)
def test_a_bad_filter_expression_is_a_400_with_a_stable_code(
    world: TestClient, expression: str
) -> None:
    response = world.get("/v1/users/u00/recommendations", params={"filter": expression})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_filter" and body["message"].startswith("query.filter")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"pin": "i01"}, "invalid_pin"),
        ({"pin": "i01:0"}, "invalid_pin"),
        ({"pin": ":3"}, "invalid_pin"),
        ({"pin": "i01:x"}, "invalid_pin"),
        ({"diversity": 1.5}, "validation_error"),
        ({"offset": -1}, "validation_error"),
        ({"filter": "price == 1 or " * 200 + "price == 2"}, "validation_error"),
        ({"exclude_seen": "maybe"}, "validation_error"),
        ({"include": "x" * 300}, "validation_error"),
    ],
)
def test_other_bad_list_parameters_are_422(
    world: TestClient, params: dict[str, Any], code: str
) -> None:
    for path in ("/v1/users/u00/recommendations", "/v1/popular", "/v1/items/i00/similar"):
        response = world.get(path, params=params)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["code"] == code


def test_scenarios_without_a_champion_answer_503(world: TestClient) -> None:
    for path in ("/v1/trending", "/v1/latest"):
        response = world.get(path)
        assert response.status_code == 503 and response.json()["code"] == "model_not_ready"


# -- item to items --------------------------------------------------------------------------


def test_similar_items_with_filters(world: TestClient) -> None:
    similar = ids(get(world, "/v1/items/i00/similar", n=5))
    assert len(similar) == 5 and {block_of(i) for i in similar} == {0} and "i00" not in similar
    red = ids(get(world, "/v1/items/i00/similar", n=9, filter="color == 'red'"))
    assert set(red) == {"i02", "i04", "i06", "i08"}
    assert ids(get(world, "/v1/items/i00/similar", n=3, exclude=["i01", "i02"]))[0] not in (
        "i01",
        "i02",
    )


def test_bought_together_uses_cooccurrence_and_falls_back_to_similar(world: TestClient) -> None:
    fallback = get(world, "/v1/items/i00/bought-together", n=4)
    assert fallback["model"].startswith("item_knn/") and fallback["item_id"] == "i00"
    ref = serve(world, "cooccurrence", "cooccurrence", ("frequently_bought_together",), min_count=1)
    body = get(world, "/v1/items/i00/bought-together", n=4, explain="true")
    assert body["model"] == ref
    assert len(ids(body)) == 4 and {block_of(i) for i in ids(body)} == {0}
    assert {e["explanation"]["reason"] for e in body["items"]} == {"bought_together"}
    missing = world.get("/v1/items/nope/bought-together")
    assert missing.status_code == 404 and missing.json()["code"] == "item_not_found"


def test_because_you_liked_groups_by_recent_liked_items(world: TestClient) -> None:
    world.post("/v1/feedback", json=[{"user_id": "u00", "item_id": "i25", "type": "like"}])
    body = get(world, "/v1/users/u00/because-you-liked", n=3, anchors=2)
    assert body["model"].startswith("item_knn/") and len(body["recommendation_id"]) == 32
    groups = body["groups"]
    assert [g["anchor_item_id"] for g in groups] == ["i25", "i04"]  # newest first
    first, second = (ids(g) for g in groups)
    assert {block_of(i) for i in first} == {2} and "i25" not in first
    assert {block_of(i) for i in second} == {0}
    assert not (set(first) | set(second)) & (LIKED_BY_U00 | {"i25"})
    assert not set(first) & set(second)
    assert get(world, "/v1/users/nobody/because-you-liked")["groups"] == []


# -- one list for everyone ------------------------------------------------------------------


def test_popular_counts_feedback_posted_since_training(world: TestClient) -> None:
    before = get(world, "/v1/popular", n=3)
    target = "i17"
    assert target not in ids(before)
    everything = get(world, "/v1/popular", n=30)["items"]
    trained = next(e["score"] for e in everything if e["item_id"] == target)
    events = [{"user_id": f"fan{k}", "item_id": target, "type": "like"} for k in range(6)]
    events.append({"user_id": "fan0", "item_id": target, "type": "like"})  # one vote per user
    events.append({"user_id": "hater", "item_id": "i18", "type": "dislike"})
    assert world.post("/v1/feedback", json=events).status_code == 200
    after = get(world, "/v1/popular", n=3)
    assert after["model"] == before["model"]  # the same model, not retrained
    assert ids(after)[0] == target and after["items"][0]["score"] == pytest.approx(trained + 6)
    assert target not in ids(get(world, "/v1/popular", n=3, user_id="fan1"))
    assert ids(get(world, "/v1/users/brand-new/recommendations", n=1)) == [target]


def test_trending_and_latest(world: TestClient) -> None:
    trending_ref = serve(world, "trending", "trending", ("trending",))
    latest_ref = serve(world, "latest", "latest", ("latest",))
    body = get(world, "/v1/latest", n=3)
    assert body["model"] == latest_ref and ids(body) == ["i29", "i28", "i27"]
    assert ids(get(world, "/v1/latest", n=2, category="genre-0")) == ["i09", "i08"]
    assert ids(get(world, "/v1/latest", n=2, user_id="u23")) == ["i29", "i28"]
    assert ids(get(world, "/v1/latest", n=2, user_id="u16")) == ["i25", "i24"]  # saw i26..i29
    before = get(world, "/v1/trending", n=3)
    assert before["model"] == trending_ref
    target = "i03"
    events = [{"user_id": f"new{k}", "item_id": target, "type": "purchase"} for k in range(5)]
    world.post("/v1/feedback", json=events)
    after = get(world, "/v1/trending", n=3, explain="true")
    assert ids(after)[0] == target and after["items"][0]["score"] > before["items"][0]["score"]
    assert after["items"][0]["explanation"]["reason"] == "trending"


# -- people you may know --------------------------------------------------------------------


def _relations(client: TestClient) -> None:
    pairs = [("u00", "u01"), ("u01", "u02"), ("u01", "u03"), ("u00", "u04"), ("u02", "u04")]
    rows = [{"user_id": a, "other_user_id": b, "type": "friend"} for a, b in pairs]
    assert client.post("/v1/relations", json=rows).status_code == 200


def test_people_you_may_know_from_the_friend_graph(world: TestClient) -> None:
    _relations(world)
    body = get(world, "/v1/users/u00/people-you-may-know")
    assert body["model"] == "friends_of_friends"
    assert [u["user_id"] for u in body["users"]] == ["u02", "u03"]  # 2 and 1 mutual friends
    assert body["users"][0]["score"] > body["users"][1]["score"]
    # a new friendship changes the next answer
    world.post("/v1/relations", json=[{"user_id": "u03", "other_user_id": "u05"}])
    assert "u05" not in [
        u["user_id"] for u in get(world, "/v1/users/u00/people-you-may-know")["users"]
    ]
    world.post("/v1/relations", json=[{"user_id": "u00", "other_user_id": "u03"}])
    after = [u["user_id"] for u in get(world, "/v1/users/u00/people-you-may-know")["users"]]
    assert "u03" not in after and "u05" in after
    assert get(world, "/v1/users/loner/people-you-may-know")["users"] == []


def test_people_you_may_know_blends_taste_similarity(world: TestClient) -> None:
    _relations(world)
    ref = serve(world, "user_knn", "user_knn", ("people_you_may_know",))
    body = get(world, "/v1/users/u00/people-you-may-know", n=10)
    assert body["model"] == ref
    people = [u["user_id"] for u in body["users"]]
    assert not {"u00", "u01", "u04"} & set(people)
    assert people[0] == "u02"  # friend of two friends and the same taste
    assert set(people) == {"u02", "u03", "u06", "u07"}  # they share liked items with u00
    page = get(world, "/v1/users/u00/people-you-may-know", n=2, offset=2)
    assert [u["user_id"] for u in page["users"]] == people[2:4]


def test_people_you_may_know_serves_a_social_champion_in_its_own_order(
    world: TestClient,
) -> None:
    """The ``social`` family blends the graph itself: its order is served as it is, and
    friends of friends made after its training come after what it knows."""
    _relations(world)
    ref = serve(world, "social", "social", ("people_you_may_know",))
    state: Any = world.app.state  # type: ignore[attr-defined]
    model = state.engine.served()["people_you_may_know"].model
    index = model.users.get("u00")
    ids_, _ = model.similar_users(np.array([index]), 10)
    expected = [str(u) for u in model.users.id_of(ids_[0][ids_[0] >= 0])]
    body = get(world, "/v1/users/u00/people-you-may-know", n=10)
    assert body["model"] == ref
    assert [u["user_id"] for u in body["users"]] == expected[: len(body["users"])]
    # a friendship made since training: u30 becomes a friend of a friend (through u04)
    world.post("/v1/relations", json=[{"user_id": "u04", "other_user_id": "u30"}])
    later = [u["user_id"] for u in get(world, "/v1/users/u00/people-you-may-know", n=50)["users"]]
    assert later[-1] == "u30" and "u30" not in expected


# -- anonymous sessions ---------------------------------------------------------------------


def test_posted_session_falls_back_to_similar_items(world: TestClient) -> None:
    response = world.post(
        "/v1/sessions/recommendations",
        json={"item_ids": ["i11", "i12", "unknown-item"]},
        params={"n": 4, "explain": "true"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"].startswith("item_knn/")
    items = ids(body)
    assert len(items) == 4 and {block_of(i) for i in items} == {1}
    assert not {"i11", "i12"} & set(items)
    for entry in body["items"]:
        assert {r["item_id"] for r in entry["explanation"]["items"]} <= {"i11", "i12"}
    nothing = world.post("/v1/sessions/recommendations", json={"item_ids": ["unknown-item"]})
    assert nothing.json()["model"].startswith("popular/")


def test_stored_session_events(world: TestClient) -> None:
    events = [
        {"user_id": "anon-1", "item_id": "i21", "type": "view", "session_id": "s-1"},
        {"user_id": "anon-1", "item_id": "i22", "type": "click", "session_id": "s-1"},
        {"user_id": "anon-1", "item_id": "i23", "type": "dislike", "session_id": "s-1"},
        {"user_id": "anon-2", "item_id": "i01", "type": "like", "session_id": "s-2"},
    ]
    assert world.post("/v1/feedback", json=events).status_code == 200
    body = get(world, "/v1/sessions/s-1/recommendations", n=5)
    assert body["session_id"] == "s-1"
    items = ids(body)
    assert len(items) == 5 and {block_of(i) for i in items} == {2}
    assert not {"i21", "i22", "i23"} & set(items)
    assert get(world, "/v1/sessions/none/recommendations", n=2)["model"].startswith("popular/")


def test_session_champion_with_sequences(world: TestClient) -> None:
    ref = serve(
        world,
        "sasrec",
        "sasrec",
        ("session",),
        embedding_dim=16,
        blocks=1,
        max_len=10,
        epochs=40,
        patience=40,
        batch_size=16,
        learning_rate=1e-2,
        dropout=0.1,
        threads=1,
    )
    response = world.post(
        "/v1/sessions/recommendations", json={"item_ids": ["i21", "i22", "i23"]}, params={"n": 3}
    )
    body = response.json()
    assert body["model"] == ref
    assert sum(block_of(i) == 2 for i in ids(body)) >= 2
    assert not {"i21", "i22", "i23"} & set(ids(body))


def test_bad_session_bodies(world: TestClient) -> None:
    for body in ({"item_ids": []}, {"item_ids": ["x"] * 1001}, {}, {"item_ids": "i01"}):
        response = world.post("/v1/sessions/recommendations", json=body)
        assert response.status_code == 422 and response.json()["code"] == "validation_error"


# -- ranking a client's candidates ----------------------------------------------------------


def test_rank_orders_candidates_for_the_user(world: TestClient) -> None:
    candidates = ["i25", "i07", "nope", "i05", "i07", "i18"]
    response = world.post("/v1/users/u00/rank", json={"item_ids": candidates})
    assert response.status_code == 200, response.text
    body = response.json()
    order = [e["item_id"] for e in body["items"]]
    assert set(order[:2]) == {"i07", "i05"} and order[-1] == "nope"
    assert len(order) == 5 and body["items"][-1]["score"] is None
    assert body["model"].startswith("item_knn/")
    world.patch("/v1/items/i05", json={"hidden": True})
    hidden = world.post("/v1/users/u00/rank", json={"item_ids": candidates}).json()
    assert "i05" not in [e["item_id"] for e in hidden["items"]]
    cold = world.post("/v1/users/stranger/rank", json={"item_ids": ["i03", "nope"]}).json()
    assert cold["model"].startswith("popular/") and cold["items"][-1]["item_id"] == "nope"
    bad = world.post("/v1/users/u00/rank", json={"item_ids": []})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"


def test_diversity_without_categories_uses_the_models_item_similarity(client: TestClient) -> None:
    assert client.post("/v1/feedback", json=synthetic_events()).status_code == 200
    serve(client, "item_knn", "item_knn", ("recommended", "similar_items"))
    plain = recs(client, n=3)
    assert {block_of(i) for i in plain} == {0}
    varied = recs(client, n=3, diversity=0.8)
    assert varied[0] == plain[0] and len({block_of(i) for i in varied}) >= 2


def test_explain_with_pins_keeps_each_explanation_on_its_item(world: TestClient) -> None:
    top = recs(world, n=3)
    body = get(world, "/v1/users/u00/recommendations", n=4, pin=[f"{top[1]}:1"], explain="true")
    reasons = [(e["item_id"], e["explanation"]["reason"]) for e in body["items"]]
    assert reasons[0] == (top[1], "pinned")
    assert all(reason == "history" for _, reason in reasons[1:])


def test_because_you_liked_prefers_its_own_champion(world: TestClient) -> None:
    ref = serve(world, "cooccurrence", "cooccurrence", ("because_you_liked",), min_count=1)
    body = get(world, "/v1/users/u00/because-you-liked", n=2, anchors=1)
    assert body["model"] == ref and body["groups"][0]["anchor_item_id"] == "i04"
    assert {block_of(i) for i in ids(body["groups"][0])} == {0}
