import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recserve.algorithms import create
from recserve.data import Dataset, ItemFeatures, Vocabulary
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import item_block, make_synthetic


class TestTfidfCosine(RecommenderBehaviour):
    family = "tfidf"


class TestTfidfEuclidean(RecommenderBehaviour):
    family = "tfidf"
    params = {"metric": "euclidean", "ngram_max": 2}


class TestEmbeddingCosine(RecommenderBehaviour):
    family = "embedding"


class TestEmbeddingEuclidean(RecommenderBehaviour):
    family = "embedding"
    params = {"metric": "euclidean", "batch_size": 16}


def with_new_items(data: Dataset, rows: dict[str, dict[str, str]]) -> Dataset:
    """The snapshot plus catalogue items nobody has interacted with yet (appended)."""
    assert data.item_features is not None
    f = data.item_features
    new = list(rows.values())
    features = ItemFeatures(
        titles=f.titles + [r.get("title", "") for r in new],
        texts=f.texts + [r.get("text", "") for r in new],
        categories=f.categories + [[] for _ in new],
        tags=f.tags + [[] for _ in new],
        published_at=np.append(f.published_at, np.full(len(new), np.nan)),
        hidden=np.append(f.hidden, np.zeros(len(new), bool)),
    )
    items = Vocabulary([*data.items.ids.tolist(), *rows])
    return replace(data, items=items, item_features=features, _cache={})


COLD = {
    "cold-jazz": {"title": "Late night jazz piano", "text": "A piano trio playing jazz standards."},
    "no-text": {},
}


@pytest.fixture(scope="module")
def cold_data() -> Dataset:
    return with_new_items(make_synthetic(), COLD)


@pytest.mark.parametrize("family", ["tfidf", "embedding"])
def test_cold_item_with_text_gets_sensible_neighbours(family: str, cold_data: Dataset) -> None:
    model = create(family).fit(cold_data)
    cold, blank = cold_data.items.get("cold-jazz"), cold_data.items.get("no-text")
    ids, scores = model.similar_items(np.array([cold, blank]), n=5)
    assert [item_block(i) for i in ids[0]] == [0] * 5  # block 0 is the jazz block
    assert np.isfinite(scores[0]).all()
    assert (ids[1] == -1).all(), "an item without text has no content neighbours"
    # an anonymous session holding only the cold item gets jazz; no-text items never come back
    history = sp.csr_matrix(([1.0], ([0], [cold])), shape=(1, cold_data.n_items))
    ids, _ = model.recommend(np.array([-1]), history, n=cold_data.n_items, exclude=history)
    real = ids[0][ids[0] >= 0]
    assert [item_block(i) for i in real[:5]] == [0] * 5
    assert blank not in real and len(real) == cold_data.n_items - 2


def test_euclidean_orders_like_cosine_for_one_query(cold_data: Dataset) -> None:
    cosine = create("tfidf").fit(cold_data)
    euclidean = create("tfidf", metric="euclidean").fit(cold_data)
    users = np.arange(10)
    a, b = cosine.score(users), euclidean.score(users)
    text = cosine.has_text
    a, b = a[:, text], b[:, text]
    clearly_better = a[:, :, None] > a[:, None, :] + 1e-4  # beyond rounding
    assert (b[:, :, None] > b[:, None, :])[clearly_better].all()
    assert (b <= 1).all() and (b > 0).all()  # 1 / (1 + distance)


def test_profile_is_the_confidence_weighted_mean(cold_data: Dataset) -> None:
    model = create("embedding").fit(cold_data)
    vectors = model.vectors
    history = sp.csr_matrix(([3.0, 1.0], ([0, 0], [2, 30])), shape=(1, cold_data.n_items))
    profile = (3 * vectors[2] + vectors[30]) / 4
    text = model.has_text
    expected = vectors[text] @ profile / np.linalg.norm(profile)  # item vectors are unit length
    scores = model.score(np.array([-1]), history)[0]
    np.testing.assert_allclose(scores[text], expected, rtol=1e-5, atol=1e-6)
    assert np.isneginf(scores[~text]).all()


def test_loading_does_not_re_encode(
    cold_data: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = create("embedding", batch_size=8).fit(cold_data)
    model.save(tmp_path / "m")
    from recserve.algorithms import text_embedding

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the stored embeddings must be used")

    monkeypatch.setattr(text_embedding, "encode", refuse)
    loaded = type(model).load(tmp_path / "m")
    assert loaded.vectors.dtype == np.float32 and loaded.vectors.shape == (cold_data.n_items, 384)
    np.testing.assert_array_equal(
        loaded.similar_items(np.arange(5), 3)[0], model.similar_items(np.arange(5), 3)[0]
    )


def test_embeddings_are_unit_length_float32() -> None:
    from recserve.algorithms.text_embedding import encode

    vectors = encode(["jazz piano trio", "heavy metal guitar", "techno synth beat"], batch_size=2)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] < 0.9


def test_the_encoder_loads_lazily() -> None:
    code = (
        "import sys, recserve.algorithms as a; "
        "a.create('embedding'); a.create('tfidf'); "
        "assert 'sentence_transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_catalogue_without_text_gives_no_signal() -> None:
    data = make_synthetic()
    bare = replace(data, item_features=None, _cache={})
    for family in ("tfidf", "embedding"):
        model = create(family).fit(bare)
        ids, _ = model.recommend(np.arange(3), n=3)
        assert (ids == -1).all()
        assert not model.has_signal(np.arange(3)).any()
