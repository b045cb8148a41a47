import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recserve.algorithms import create
from recserve.algorithms.neural.two_tower import TwoTower
from recserve.data import Dataset, ItemFeatures, Vocabulary
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import USERS_PER_BLOCK, item_block, make_synthetic

# small and fast: no text encoder, no hold-out, one CPU thread
FAST: dict[str, Any] = {
    "use_text": False,
    "epochs": 15,
    "batch_size": 64,
    "validation_fraction": 0.0,
    "threads": 1,
    "device": "cpu",
}


class TestTwoTower(RecommenderBehaviour):
    family = "two_tower"
    params = FAST


class TestTwoTowerBPR(RecommenderBehaviour):
    family = "two_tower"
    params = {**FAST, "loss": "bpr", "item_table_dtype": "int8"}


def with_new_items(data: Dataset, rows: dict[str, dict[str, Any]]) -> Dataset:
    """The snapshot plus catalogue items nobody has interacted with yet (appended)."""
    assert data.item_features is not None
    f = data.item_features
    new = list(rows.values())
    features = ItemFeatures(
        titles=f.titles + [r.get("title", "") for r in new],
        texts=f.texts + [r.get("text", "") for r in new],
        categories=f.categories + [r.get("categories", []) for r in new],
        tags=f.tags + [r.get("tags", []) for r in new],
        published_at=np.append(f.published_at, np.full(len(new), np.nan)),
        hidden=np.append(f.hidden, np.zeros(len(new), bool)),
    )
    items = Vocabulary([*data.items.ids.tolist(), *rows])
    return replace(data, items=items, item_features=features, _cache={})


BAROQUE = 2  # block 2 of the synthetic data: "baroque string quartet"
COLD = {
    "cold-baroque": {
        "title": "baroque album 99",
        "text": "A baroque string quartet record, number 99.",
        "categories": [f"genre-{BAROQUE}"],
        "tags": ["baroque", "string"],
    },
    "no-features": {},
}


@pytest.fixture(scope="module")
def cold_data() -> Dataset:
    return with_new_items(make_synthetic(), COLD)


@pytest.fixture(scope="module")
def cold_model(cold_data: Dataset) -> TwoTower:
    return create("two_tower", **FAST).fit(cold_data)  # type: ignore[return-value]


def block_users(block: int) -> np.ndarray:
    return np.arange(block * USERS_PER_BLOCK, (block + 1) * USERS_PER_BLOCK)


def test_cold_item_is_served_from_its_features(cold_model: TwoTower, cold_data: Dataset) -> None:
    cold, blank = cold_data.items.get("cold-baroque"), cold_data.items.get("no-features")
    assert cold_model.servable_items[cold] and not cold_model.servable_items[blank]
    ids, scores = cold_model.similar_items(np.array([cold, blank]), n=5)
    assert [item_block(i) for i in ids[0]] == [BAROQUE] * 5
    assert np.isfinite(scores[0]).all() and (ids[1] == -1).all()
    # it reaches the baroque listeners' lists (their 5 unseen baroque items plus this one)
    fans = block_users(BAROQUE)
    others = np.setdiff1d(np.arange(cold_data.n_users), fans)
    lists, _ = cold_model.recommend(fans, n=6, exclude=cold_data.seen_matrix()[fans])
    assert np.mean([cold in row for row in lists]) >= 0.8
    scores = cold_model.score(np.arange(cold_data.n_users))
    assert scores[fans, cold].min() > scores[others, cold].max()
    # an item with nothing to go on is never recommended
    lists, _ = cold_model.recommend(np.arange(10), n=cold_data.n_items)
    assert not (lists == blank).any()


def test_anonymous_session_with_a_cold_item(cold_model: TwoTower, cold_data: Dataset) -> None:
    cold = cold_data.items.get("cold-baroque")
    history = sp.csr_matrix(([1.0], ([0], [cold])), shape=(1, cold_data.n_items))
    assert cold_model.has_signal(np.array([-1]), history).all()
    ids, _ = cold_model.recommend(np.array([-1]), history, n=3, exclude=history)
    assert [item_block(i) for i in ids[0]] == [BAROQUE] * 3


def test_text_embedding_feeds_the_item_tower(cold_data: Dataset) -> None:
    model = create(
        "two_tower", **{**FAST, "use_text": True, "use_tokens": False, "epochs": 10}
    ).fit(cold_data)
    cold = cold_data.items.get("cold-baroque")
    assert model.servable_items[cold]
    ids, _ = model.similar_items(np.array([cold]), n=5)
    assert np.mean([item_block(i) == BAROQUE for i in ids[0]]) >= 0.8
    assert model.module is not None and model.item_embeddings.shape == (cold_data.n_items, 64)


def test_scores_are_query_vectors_times_the_item_table(cold_model: TwoTower) -> None:
    users = np.array([0, 20, -1])
    history = sp.csr_matrix(([1.0, 1.0], ([2, 2], [0, 1])), shape=(3, cold_model.n_items))
    queries = cold_model.query_vectors(users, history)
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, rtol=1e-5)
    expected = queries @ cold_model.item_embeddings.T
    expected[:, ~cold_model.servable_items] = -np.inf
    np.testing.assert_allclose(cold_model.score(users, history), expected, rtol=1e-5, atol=1e-6)


def test_a_known_user_without_positives_has_no_signal() -> None:
    data = make_synthetic()
    keep = ~((data.user == 0) & (data.kind == 1))  # user 0 keeps only their dislikes
    model = create("two_tower", **{**FAST, "epochs": 2}).fit(data.subset(keep))
    assert not model.has_signal(np.array([0]))[0] and model.has_signal(np.array([1]))[0]
    ids, _ = model.recommend(np.array([0, 1]), n=3)
    assert (ids[0] == -1).all() and (ids[1] >= 0).all()


def test_early_stopping_restores_the_best_epoch() -> None:
    model = create(
        "two_tower", **{**FAST, "validation_fraction": 0.1, "epochs": 6, "patience": 2}
    ).fit(make_synthetic())
    scores = [log.validation for log in model.history]
    assert all(s is not None and 0 <= s <= 1 for s in scores)
    assert 1 <= len(scores) <= 6


def test_int8_table_is_saved_as_int8(tmp_path: Path) -> None:
    data = make_synthetic()
    model = create("two_tower", **{**FAST, "item_table_dtype": "int8", "epochs": 5}).fit(data)
    model.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "arrays.npz") as arrays:
        assert arrays["state.items.data"].dtype == np.int8
        assert not any("item_id" in name for name in arrays.files), "no item tower is kept"
    loaded = TwoTower.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.item_table.data, model.item_table.data)
    full = create("two_tower", **{**FAST, "epochs": 5}).fit(data)
    top_int8, _ = model.recommend(np.arange(20), n=5)
    top_full, _ = full.recommend(np.arange(20), n=5)
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top_int8, top_full, strict=True)])
    assert overlap >= 0.8


def test_importing_the_families_does_not_import_torch() -> None:
    code = (
        "import sys, recserve.algorithms as a; "
        "a.create('two_tower'); a.create('fm_ranker'); "
        "import recserve.algorithms.neural.quantise; "
        "assert 'torch' not in sys.modules, 'torch imported at module level'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
