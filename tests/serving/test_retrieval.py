"""faiss candidate retrieval: recall against exact top-n, exclusions, and the engine's hook
that attaches an index to large factor models, checked through HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from fastapi.testclient import TestClient

from recserve.algorithms import create
from recserve.algorithms.candidate_search import CANDIDATE_MAX_EXCLUDED
from recserve.algorithms.factor_base import FactorModel
from recserve.data import Dataset, Vocabulary
from recserve.serving.retrieval import IvfIndex, attach_neighbours, attach_retrieval
from recserve.store import Store, entities
from tests.api.conftest import BLOCKS, USERS_PER_BLOCK, synthetic_events, user_id
from tests.api.conftest import make_client as make_client  # the fixture

ITEMS = 60_000
USERS = 400
DIM = 32


def clustered_model(family: str = "als", seed: int = 0) -> FactorModel[Any]:
    """A factor model with clustered random factors (as trained factors are): items and
    users scattered around shared topic centres; every 97th item has no training signal."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(300, DIM)).astype(np.float32)
    items = centres[rng.integers(0, 300, ITEMS)] + rng.normal(size=(ITEMS, DIM))
    users = centres[rng.integers(0, 300, USERS)] + 0.5 * rng.normal(size=(USERS, DIM))
    model = create(family, factors=DIM)
    assert isinstance(model, FactorModel)
    model.users = Vocabulary([f"u{u}" for u in range(USERS)])
    model.items = Vocabulary([f"i{i}" for i in range(ITEMS)])
    model._set_factors(users, 0.1 * items, np.ones(USERS, bool), np.arange(ITEMS) % 97 != 0)
    if family == "biased_mf":  # the rating part, as _set_ratings would leave it
        model.global_mean, model.positive_rating = 3.5, 4.5  # type: ignore[attr-defined]
        model.user_bias = (0.2 * rng.normal(size=USERS)).astype(np.float32)  # type: ignore[attr-defined]
        model.item_bias = (0.3 * rng.normal(size=ITEMS)).astype(np.float32)  # type: ignore[attr-defined]
        model.rating_range = np.array([1.0, 5.0])  # type: ignore[attr-defined]
        model.trained_ratings = sp.csr_matrix((USERS, ITEMS), dtype=np.float32)  # type: ignore[attr-defined]
    return model


def recall_at(approx: np.ndarray, exact: np.ndarray) -> float:
    return float(
        np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact, strict=True)])
    )


@pytest.fixture(scope="module")
def als() -> FactorModel[Any]:
    model = clustered_model()
    assert attach_retrieval(model, min_items=50_000)
    return model


def exact_recommend(model: FactorModel[Any], *args: Any) -> tuple[np.ndarray, np.ndarray]:
    index = model.candidate_index
    model.attach_candidates(None)
    try:
        return model.recommend(*args)
    finally:
        model.attach_candidates(index)


def test_small_catalogues_and_other_families_keep_exact_top_n() -> None:
    model = clustered_model()
    assert not attach_retrieval(model, min_items=ITEMS + 1)
    assert model.candidate_index is None
    assert not attach_retrieval(create("popular"), min_items=1)


def test_ann_recall_at_10_against_exact(als: FactorModel[Any]) -> None:
    users = np.arange(200)
    exact_ids, exact_scores = exact_recommend(als, users, None, 10)
    ids, scores = als.recommend(users, None, 10)
    assert recall_at(ids, exact_ids) >= 0.95
    # candidates are re-scored exactly: an item found by both carries the same score
    both = ids == exact_ids
    assert both.mean() > 0.9
    np.testing.assert_allclose(scores[both], exact_scores[both], rtol=1e-5, atol=1e-5)
    # never an item without training signal
    assert als.servable_items[ids[ids >= 0]].all()


def test_rating_models_rank_by_predicted_rating_through_the_index() -> None:
    model = clustered_model("biased_mf", seed=1)
    assert attach_retrieval(model, min_items=1000)
    users = np.arange(100)
    exact_ids, exact_scores = exact_recommend(model, users, None, 10)
    ids, scores = model.recommend(users, None, 10)
    assert recall_at(ids, exact_ids) >= 0.95
    both = ids == exact_ids
    np.testing.assert_allclose(scores[both], exact_scores[both], rtol=1e-5, atol=1e-5)


def test_excluded_items_never_come_back(als: FactorModel[Any]) -> None:
    users = np.arange(50)
    top_ids, _ = exact_recommend(als, users, None, 30)
    # exclude each user's exact top-20: the answer must be the next ones, none excluded
    rows = np.repeat(np.arange(len(users)), 20)
    exclude = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, top_ids[:, :20].ravel())),
        shape=(len(users), ITEMS),
    )
    ids, _ = als.recommend(users, None, 10, exclude)
    for row in range(len(users)):
        assert not set(ids[row]) & set(top_ids[row, :20])
    assert recall_at(ids, top_ids[:, 20:30]) >= 0.95


def test_a_huge_exclusion_set_falls_back_to_exact(als: FactorModel[Any]) -> None:
    # user 0 excludes every item but a few hundred: the index's candidates would all be
    # excluded, so the exact path must answer (and equal plain exact search)
    rng = np.random.default_rng(3)
    keep = rng.choice(ITEMS, 300, replace=False)
    excluded = np.setdiff1d(np.arange(ITEMS), keep)
    assert len(excluded) > CANDIDATE_MAX_EXCLUDED
    exclude = sp.csr_matrix(
        (np.ones(len(excluded), np.float32), (np.zeros(len(excluded), int), excluded)),
        shape=(2, ITEMS),
    )
    users = np.array([0, 1])
    ids, scores = als.recommend(users, None, 10, exclude)
    exact_ids, exact_scores = exact_recommend(als, users, None, 10, exclude)
    np.testing.assert_array_equal(ids[0], exact_ids[0])
    np.testing.assert_allclose(scores[0], exact_scores[0], rtol=1e-5)
    assert set(ids[0]) <= set(keep)
    assert recall_at(ids[1:], exact_ids[1:]) >= 0.9


def test_unknown_user_without_history_gets_an_empty_row(als: FactorModel[Any]) -> None:
    ids, scores = als.recommend(np.array([-1, 0]), None, 5)
    assert (ids[0] == -1).all() and np.isneginf(scores[0]).all()
    assert (ids[1] >= 0).all()


def test_similar_items_through_the_neighbour_index_match_exact_cosine() -> None:
    model = clustered_model(seed=5)
    anchors = np.array([0, 1, 2, 97, -1, *range(100, 3100, 30)])  # 0, 97: not servable
    exact_ids, exact_scores = model.similar_items(anchors, 10)
    assert model.neighbour_index is None
    assert not attach_neighbours(model, min_items=ITEMS + 1)  # below the threshold
    assert attach_neighbours(model, min_items=50_000) and model.neighbour_index is not None
    ids, scores = model.similar_items(anchors, 10)
    servable = (anchors >= 0) & model.servable_items[anchors.clip(min=0)]
    assert (~servable).sum() == 4  # 0, 97, 970 (multiples of 97) and -1
    for row in np.flatnonzero(~servable):  # nothing for them, as on the exact path
        assert (ids[row] == -1).all() and (exact_ids[row] == -1).all()
    ok = np.flatnonzero(servable)
    assert recall_at(ids[ok], exact_ids[ok]) >= 0.95
    factors = model.item_factors.astype(np.float64)
    norms = np.linalg.norm(factors, axis=1)
    for row in ok:
        assert anchors[row] not in ids[row] and model.servable_items[ids[row]].all()
        near, anchor = ids[row], anchors[row]
        cosine = factors[near] @ factors[anchor] / (norms[near] * norms[anchor])
        np.testing.assert_allclose(scores[row], cosine, rtol=1e-4, atol=1e-5)  # exact scores
        assert (np.diff(scores[row]) <= 0).all()
    # a huge n takes the exact path; detaching restores it too
    big_ids, _ = model.similar_items(anchors[1:2], CANDIDATE_MAX_EXCLUDED + 1)
    exact_big, _ = exact_ids_for(model, anchors[1:2], CANDIDATE_MAX_EXCLUDED + 1)
    np.testing.assert_array_equal(big_ids, exact_big)
    model.attach_neighbours(None)
    np.testing.assert_array_equal(model.similar_items(anchors, 10)[0], exact_ids)
    np.testing.assert_allclose(model.similar_items(anchors, 10)[1], exact_scores)


def exact_ids_for(model: FactorModel[Any], items: np.ndarray, n: int) -> tuple[Any, Any]:
    index = model.neighbour_index
    model.attach_neighbours(None)
    try:
        return model.similar_items(items, n)
    finally:
        model.attach_neighbours(index)


def test_index_search_pads_and_maps_to_item_indices() -> None:
    vectors = np.eye(8, dtype=np.float32)
    servable = np.array([True, False] * 4)
    index = IvfIndex.build(vectors, servable)
    found = index.search(vectors[[2]], 10)
    assert found.shape == (1, 4) and found[0, 0] == 2
    assert set(found[0]) == {0, 2, 4, 6}


# -- through the engine and HTTP ---------------------------------------------------------


def recommended(client: TestClient, user: str, n: int = 8) -> tuple[list[str], list[float]]:
    response = client.get(f"/v1/users/{user}/recommendations", params={"n": n})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return [e["item_id"] for e in items], [e["score"] for e in items]


def serving_client(
    make_client: Callable[..., TestClient], champions: dict[str, str], **settings: Any
) -> tuple[TestClient, Any]:
    """A client whose engine serves ``champions`` (scenario -> family, each fitted on the
    synthetic events); returns it and the app state."""
    client = make_client(**settings)
    assert client.post("/v1/feedback", json=synthetic_events()).status_code == 200
    state: Any = client.app.state  # type: ignore[attr-defined]
    data = Dataset.from_store(state.store, state.settings.feedback_types)
    for scenario, family in champions.items():
        version = state.registry.register(family, create(family, factors=16).fit(data))
        state.registry.promote(scenario, family, version.version)
    assert state.engine.refresh() == sorted(champions)
    return client, state


def test_engine_attaches_the_index_above_the_threshold_and_serves_the_same_top_items(
    make_client: Callable[..., TestClient],
) -> None:
    client, state = serving_client(make_client, {"recommended": "als"}, ann_min_items=10)
    assert state.engine.champions.ann_min_items == 10
    served = state.engine.served()["recommended"].model
    assert isinstance(served, FactorModel) and served.candidate_index is not None
    users = [user_id(u) for u in range(BLOCKS * USERS_PER_BLOCK)]
    with_index = {u: recommended(client, u) for u in users}
    served.attach_candidates(None)
    for u in users:
        ids, scores = recommended(client, u)
        assert with_index[u][0] == ids
        np.testing.assert_allclose(with_index[u][1], scores, rtol=1e-5, atol=1e-6)
        assert len(ids) == 8


def test_each_champion_gets_the_index_its_scenarios_use(
    make_client: Callable[..., TestClient],
) -> None:
    champions = {"recommended": "als", "similar_items": "bpr"}
    client, state = serving_client(make_client, champions, ann_min_items=10)
    served = state.engine.served()
    top_n = served["recommended"].model
    assert top_n.candidate_index is not None and top_n.neighbour_index is None
    similar = served["similar_items"].model
    assert isinstance(similar, FactorModel) and similar.neighbour_index is not None
    assert similar.candidate_index is None  # never asked for its top-n
    assert similar.items is not None
    anchor = str(similar.items.ids[0])
    response = client.get(f"/v1/items/{anchor}/similar", params={"n": 5})
    assert response.status_code == 200, response.text
    with_index = [e["item_id"] for e in response.json()["items"]]
    similar.attach_neighbours(None)
    exact = [e["item_id"] for e in client.get(f"/v1/items/{anchor}/similar?n=5").json()["items"]]
    assert len(with_index) == 5 and anchor not in with_index
    assert len(set(with_index) & set(exact)) >= 4


def test_default_threshold_keeps_small_models_exact(
    make_client: Callable[..., TestClient],
) -> None:
    client, state = serving_client(make_client, {"recommended": "als"})
    assert state.engine.champions.ann_min_items == 50_000
    assert state.engine.served()["recommended"].model.candidate_index is None
    ids, _ = recommended(client, user_id(0))
    assert len(ids) == 8


def test_the_store_reads_a_whole_large_catalogue_in_chunks(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # loading a model reads every one of its items (1M at the serving benchmark's size),
    # more than SQLite's or PostgreSQL's bound-parameter limit: get_many asks in chunks
    monkeypatch.setattr(entities, "GET_MANY_CHUNK", 7)
    store = Store.open(database_url)
    try:
        store.items.upsert([{"item_id": f"i{j}", "hidden": j % 5 == 0} for j in range(40)])
        rows = store.items.get_many([f"i{j}" for j in range(45)] + ["i3"])
        assert sorted(rows) == sorted(f"i{j}" for j in range(40))
        assert [j for j in range(40) if rows[f"i{j}"]["hidden"]] == list(range(0, 40, 5))
    finally:
        store.close()


def test_nprobe_is_calibrated_to_the_target_recall_on_the_models_own_queries() -> None:
    # clustered factors need few cells scanned, structureless ones many more; both reach
    # the target on users the calibration never saw (users 300.. have no training signal,
    # so their rows are not calibration queries; their vectors are kept to query with)
    rng = np.random.default_rng(5)
    clustered = clustered_model(seed=5)
    tables = {
        "clustered": (clustered.user_factors.copy(), clustered.item_factors.copy()),
        "flat": (rng.normal(size=(USERS, DIM)), rng.normal(size=(ITEMS, DIM))),
    }
    probes = {}
    for name, (users, items) in tables.items():
        model = clustered_model(seed=5)
        model._set_factors(users.copy(), items, np.arange(USERS) < 300, np.ones(ITEMS, bool))
        assert attach_retrieval(model, min_items=1000)
        index = model.candidate_index
        # 4 sqrt(rows) = 979 cells, as far as the k-means sample allows (64 points a cell)
        assert isinstance(index, IvfIndex) and index.cells == len(index) // 64
        probes[name] = index.nprobe
        unseen = np.asarray(users[300:], dtype=np.float32)
        exact_top = np.argsort(-(unseen @ model.item_factors.T), axis=1)[:, :10]
        found = index.search(unseen, 40)
        served = [
            f[np.argsort(-(model.item_factors[f] @ q))][:10]
            for f, q in zip(found, unseen, strict=True)
        ]
        assert recall_at(np.array(served), exact_top) >= 0.95, name
    assert probes["clustered"] < probes["flat"], probes
