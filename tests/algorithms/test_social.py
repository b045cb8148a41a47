"""The social family: the behavioural suite, plus people-you-may-know on small known graphs."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recserve.algorithms import create
from recserve.config import default_feedback_types
from recserve.data import Dataset
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import make_synthetic, user_block


class TestSocialBlend(RecommenderBehaviour):
    family = "social"
    params = {"graph_weight": 0.5, "neighbours": 10}


class TestSocialCommonNeighbours(RecommenderBehaviour):
    family = "social"
    params = {"graph_weight": 0.8, "graph_score": "common_neighbours"}


def small_world(friendships: list[tuple[str, str]], likes: list[tuple[str, str]]) -> Dataset:
    users = np.array([u for u, _ in likes], dtype=object)
    items = np.array([i for _, i in likes], dtype=object)
    return Dataset.from_events(
        users,
        items,
        np.full(len(likes), "like", dtype=object),
        np.full(len(likes), np.nan),
        np.arange(len(likes), dtype=np.float64),
        default_feedback_types(),
        relations=(
            np.array([a for a, _ in friendships], dtype=object),
            np.array([b for _, b in friendships], dtype=object),
        ),
    )


def suggestions(model: object, data: Dataset, user: str, n: int = 5) -> list[str]:
    ids, _ = model.similar_users(np.array([data.users.get(user)]), n)  # type: ignore[attr-defined]
    return data.users.id_of(ids[0][ids[0] >= 0]).tolist()


# a and b share two friends (c, d); a and e share one (c); f is nobody's friend of a friend
FRIENDS = [("a", "c"), ("a", "d"), ("b", "c"), ("d", "b"), ("c", "e"), ("f", "g")]
LIKES = [(u, "x") for u in "abcdefg"] + [("a", "y"), ("f", "y"), ("g", "z")]


def test_friends_of_friends_ranked_by_shared_friends_without_friends_or_self() -> None:
    data = small_world(FRIENDS, LIKES)
    model = create("social", graph_weight=1.0, graph_score="common_neighbours").fit(data)
    assert suggestions(model, data, "a") == ["b", "e"]  # c, d are friends already; a is a


def test_relations_listed_one_way_count_both_ways() -> None:
    data = small_world(FRIENDS, LIKES)
    model = create("social", graph_weight=1.0).fit(data)
    assert suggestions(model, data, "b")[0] == "a"  # only ever listed as (a, c), (d, b)


def test_adamic_adar_prefers_a_shared_friend_with_few_friends() -> None:
    # a-hub-b through a hub with many friends, a-quiet-c through a friend of two
    hub = [("hub", f"h{k}") for k in range(8)]
    friends = [("a", "hub"), ("b", "hub"), ("a", "quiet"), ("c", "quiet"), *hub]
    data = small_world(friends, [("a", "x"), ("b", "x"), ("c", "x")])
    aa = create("social", graph_weight=1.0, graph_score="adamic_adar").fit(data)
    assert suggestions(aa, data, "a")[0] == "c"
    plain = create("social", graph_weight=1.0, graph_score="common_neighbours").fit(data)
    ids, scores = plain.similar_users(np.array([data.users.get("a")]), 12)
    by_user = dict(zip(data.users.id_of(ids[0][ids[0] >= 0]), scores[0], strict=False))
    assert by_user["b"] == by_user["c"]


def test_taste_alone_finds_users_who_like_the_same_items() -> None:
    data = small_world(FRIENDS, LIKES)
    model = create("social", graph_weight=0.0).fit(data)
    assert suggestions(model, data, "a")[0] == "f"  # x and y, like a; not a friend of a friend


def test_blend_and_exclusion_on_the_synthetic_graph() -> None:
    data = make_synthetic()
    model = create("social", graph_weight=0.5).fit(data)
    users = np.arange(data.n_users)
    ids, _ = model.similar_users(users, 5)
    friends = model.friends
    for u, row in zip(users, ids, strict=True):
        real = row[row >= 0]
        assert len(real) == 5 and u not in real
        assert not set(real.tolist()) & set(friends[u].indices.tolist())
        assert all(user_block(v) == user_block(u) for v in real)
    unknown, _ = model.similar_users(np.array([-1]), 3)
    assert (unknown == -1).all()


def test_items_friends_liked_and_a_new_event_counts_at_once() -> None:
    data = small_world(FRIENDS, LIKES)
    model = create("social", graph_weight=1.0).fit(data)
    f = np.array([data.users.get("f")])
    ids, _ = model.recommend(f, n=3, exclude=data.seen_matrix()[f])
    assert data.items.id_of(ids[0][ids[0] >= 0]).tolist() == ["z"]  # g, f's friend, liked z
    # taste only: f now likes z too; the users who like z (g) bring nothing new, those who
    # like x bring y -- the history moves the answer without refitting
    taste = create("social", graph_weight=0.0).fit(data)
    z = data.items.get("z")
    history = sp.csr_matrix(([1.0], ([0], [z])), shape=(1, data.n_items), dtype=np.float32)
    before = taste.score(f)[0]
    after = taste.score(f, history)[0]
    assert not np.allclose(before, after)
    assert after[z] > 0


def test_a_graph_without_relations_falls_back_to_taste() -> None:
    data = small_world([], LIKES)
    model = create("social").fit(data)
    assert suggestions(model, data, "a")[0] == "f"
