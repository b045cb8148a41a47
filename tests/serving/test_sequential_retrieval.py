"""Sequential models served through a faiss candidate index: the user's last hidden state
is the query, candidates are re-scored exactly; checked against the exact top-n, and
through HTTP with the engine attaching the index above ``ann_min_items``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from fastapi.testclient import TestClient

from recserve.algorithms import create
from recserve.algorithms.base import Recommender
from recserve.algorithms.neural.sequences import SequentialRecommender
from recserve.config import default_feedback_types
from recserve.data import Dataset
from recserve.serving.retrieval import IvfIndex, attach_retrieval
from tests.api.conftest import make_client as make_client  # the fixture

pytest.importorskip("torch")

ITEMS, USERS, EVENTS_PER_USER, TOPICS = 3000, 600, 20, 30


class CountingIndex:
    """A real ``IvfIndex`` that counts its searches (to tell which path answered)."""

    def __init__(self, index: IvfIndex):
        self.index, self.searches = index, 0

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        self.searches += 1
        return self.index.search(queries, k)


def topic_log() -> Dataset:
    """Users walking through the items of one topic each, in time order."""
    rng = np.random.default_rng(0)
    topic_of_user = rng.integers(0, TOPICS, USERS)
    per_topic = ITEMS // TOPICS
    users, items = [], []
    for u in range(USERS):
        start = topic_of_user[u] * per_topic
        walk = start + (rng.integers(0, per_topic) + np.arange(EVENTS_PER_USER)) % per_topic
        users += [f"u{u}"] * EVENTS_PER_USER
        items += [f"i{i}" for i in walk]
    times = np.arange(len(users), dtype=float)
    n = len(users)
    return Dataset.from_events(
        users, items, ["like"] * n, [None] * n, times, default_feedback_types()
    )


@pytest.fixture(scope="module")
def sasrec() -> SequentialRecommender[Any]:
    model = create("sasrec", epochs=2, validation_users=0, threads=1).fit(topic_log())
    assert isinstance(model, SequentialRecommender)
    return model


def exact(model: SequentialRecommender[Any], *args: Any) -> tuple[np.ndarray, np.ndarray]:
    return Recommender.recommend(model, *args)  # the base class: no memo, no index


def test_the_index_serves_the_exact_top_items_with_exact_scores(
    sasrec: SequentialRecommender[Any],
) -> None:
    assert not attach_retrieval(sasrec, min_items=sasrec.n_items + 1)  # too small: exact
    assert sasrec.candidate_index is None
    assert attach_retrieval(sasrec, min_items=1000)
    built = sasrec.candidate_index
    assert isinstance(built, IvfIndex) and built.cells > 1  # a real partition, probed in part
    counting = CountingIndex(built)
    sasrec.attach_candidates(counting)
    try:
        hits, lists = 0, 0
        rng = np.random.default_rng(1)
        for user in rng.choice(USERS, 120, replace=False):
            users = np.array([user])
            assert sasrec.trained is not None
            seen = sasrec.trained.row(int(user))
            exclude = sp.csr_matrix(
                (np.ones(len(seen), np.float32), (np.zeros(len(seen), int), seen)),
                shape=(1, sasrec.n_items),
            )
            before = counting.searches
            ids, scores = sasrec.recommend(users, None, 10, exclude)
            assert counting.searches == before + 1  # answered through the index
            want, _ = exact(sasrec, users, None, 10, exclude)
            assert not set(ids[0]) & set(seen.tolist())  # exclusions never come back
            full = sasrec.score(users)[0]
            np.testing.assert_allclose(scores[0], full[ids[0]], rtol=1e-4, atol=1e-5)
            hits += len(set(ids[0]) & set(want[0]))
            lists += 10
        assert hits / lists >= 0.9  # the calibration aims at 0.97
    finally:
        sasrec.attach_candidates(built)


def test_requests_the_index_cannot_answer_take_the_exact_path(
    sasrec: SequentialRecommender[Any],
) -> None:
    assert attach_retrieval(sasrec, min_items=1000)
    counting = CountingIndex(sasrec.candidate_index)  # type: ignore[arg-type]
    sasrec.attach_candidates(counting)
    try:
        nobody = np.array([-1])  # an unknown user without a history: nothing to go on
        ids, _ = sasrec.recommend(nobody, None, 10)
        np.testing.assert_array_equal(ids, exact(sasrec, nobody, None, 10)[0])
        assert counting.searches == 0
        batch = np.array([0, 1, 2])  # several users at once: the exact batched path
        np.testing.assert_array_equal(
            sasrec.recommend(batch, None, 5)[0], exact(sasrec, batch, None, 5)[0]
        )
        assert counting.searches == 0
        sequence = [np.array([5, 6, 7, 8])]  # a request's own sequence is the query
        ids, _ = sasrec.recommend(nobody, None, 10, None, sequence)
        assert counting.searches == 1
        want, _ = exact(sasrec, nobody, None, 10, None, sequence)
        assert len(set(ids[0]) & set(want[0])) >= 8
    finally:
        sasrec.attach_candidates(counting.index)


def test_the_engine_attaches_the_index_to_a_sequential_champion(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(ann_min_items=1000)
    state: Any = client.app.state  # type: ignore[attr-defined]
    data = topic_log()
    state.store.items.upsert([{"item_id": str(i)} for i in data.items.ids])
    model = create("sasrec", epochs=1, validation_users=0, threads=1).fit(data)
    for scenario, family, fitted in (
        ("recommended", "sasrec", model),
        ("popular", "popular", create("popular").fit(data)),
    ):
        version = state.registry.register(family, fitted)
        state.registry.promote(scenario, family, version.version)
    state.engine.refresh()
    served = state.engine.served()["recommended"].model
    assert isinstance(served.candidate_index, IvfIndex)
    counting = CountingIndex(served.candidate_index)
    served.attach_candidates(counting)
    sequence = ["i100", "i101", "i102", "i103"]
    for k, item in enumerate(sequence):  # a user the model never saw, just now
        event = {"event_id": f"x{k}", "user_id": "newcomer", "item_id": item, "type": "like"}
        assert client.post("/v1/feedback", json=[event | {"timestamp": 1e9 + k}]).status_code == 200
    body = client.get("/v1/users/newcomer/recommendations", params={"n": 10}).json()
    got = [e["item_id"] for e in body["items"]]
    assert body["model"].startswith("sasrec/") and len(got) == 10
    assert counting.searches == 1  # the live sequence was the index's query
    assert not set(got) & set(sequence)
    indices = served.items.index(sequence)
    seen = sp.csr_matrix(
        (np.ones(4, np.float32), (np.zeros(4, int), indices)), (1, len(data.items))
    )
    want, _ = exact(served, np.array([-1]), seen, 10, seen, [indices])
    assert len(set(got) & set(served.items.id_of(want[0]).tolist())) >= 8
