import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from recserve.algorithms import create
from recserve.algorithms.similarity import RowSimilarity
from recserve.config import default_feedback_types
from recserve.data import Dataset
from tests.algorithms.behaviour import RecommenderBehaviour


class TestItemKNNCosine(RecommenderBehaviour):
    family = "item_knn"
    params = {"similarity": "cosine", "neighbours": 20}


class TestItemKNNBM25(RecommenderBehaviour):
    family = "item_knn"
    params = {"similarity": "bm25", "neighbours": 20}


class TestItemKNNTfidfBinary(RecommenderBehaviour):
    family = "item_knn"
    params = {"similarity": "tfidf", "neighbours": 20, "binary": True}


class TestItemKNNPearson(RecommenderBehaviour):
    family = "item_knn"
    params = {"similarity": "pearson", "neighbours": 20}


class TestItemKNNJaccardShrunk(RecommenderBehaviour):
    family = "item_knn"
    params = {"similarity": "jaccard", "neighbours": 20, "shrinkage": 5.0}


class TestItemKNNCosineShrunk(RecommenderBehaviour):
    family = "item_knn"
    params = {"similarity": "cosine", "neighbours": 20, "shrinkage": 5.0}


# users x items: i0 = {u0, u1}, i1 = {u0, u1, u2}, i2 = {u1, u2}
SETS = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=np.float32))
# users x items explicit ratings; a blank is no rating
RATINGS = np.array([[5, 3, 0], [4, 0, 2], [1, 5, 4]], dtype=np.float32)


def _likes(matrix: np.ndarray, kind: str = "like") -> Dataset:
    users, items = np.nonzero(matrix)
    return Dataset.from_events(
        np.array([f"u{u}" for u in users], dtype=object),
        np.array([f"i{i}" for i in items], dtype=object),
        np.full(len(users), kind, dtype=object),
        matrix[users, items].astype(np.float64),
        np.arange(len(users), dtype=np.float64),
        default_feedback_types(),
    )


def test_jaccard_by_hand() -> None:
    sim = RowSimilarity.fit(SETS.T, "jaccard").against(SETS.T).toarray()
    expected = np.array([[1, 2 / 3, 1 / 3], [2 / 3, 1, 2 / 3], [1 / 3, 2 / 3, 1]])
    np.testing.assert_allclose(sim, expected, rtol=1e-6)
    # shrinkage: * n / (n + 1) with n = 2 shared users for (i0, i1) and (i1, i2), 1 for (i0, i2)
    model = create("item_knn", similarity="jaccard", shrinkage=1.0).fit(_likes(SETS.toarray()))
    expected_shrunk = np.array([[0, 4 / 9, 1 / 6], [4 / 9, 0, 4 / 9], [1 / 6, 4 / 9, 0]])
    np.testing.assert_allclose(model.similarity.toarray(), expected_shrunk, rtol=1e-6)


def test_pearson_by_hand_over_co_rating_users_only() -> None:
    sim = RowSimilarity.fit(RATINGS.T, "pearson").against(RATINGS.T).toarray()  # unshrunk
    # item means over their raters: 10/3, 4, 3. i0 and i1 share u0 and u2:
    # centred i0 = (5/3, -7/3), i1 = (-1, 1) -> -4 / sqrt((25/9 + 49/9) * 2)
    assert sim[0, 1] == pytest.approx(-4 / np.sqrt(148 / 9), rel=1e-6)
    # i0 and i2 share u1 and u2: centred i0 = (2/3, -7/3), i2 = (-1, 1)
    assert sim[0, 2] == pytest.approx(-3 / np.sqrt(106 / 9), rel=1e-6)
    # i1 and i2 share only u2, both +1 above their means
    assert sim[1, 2] == pytest.approx(1.0)
    np.testing.assert_allclose(sim, sim.T, rtol=1e-6)


def test_pearson_matches_a_brute_force_loop(rng: np.random.Generator) -> None:
    dense = rng.integers(1, 6, size=(30, 12)).astype(np.float32)
    dense[rng.random(dense.shape) < 0.5] = 0  # 0: not rated
    sim = RowSimilarity.fit(dense.T, "pearson").against(dense.T).toarray()
    for a in range(12):
        for b in range(12):
            ra, rb = dense[:, a] > 0, dense[:, b] > 0
            ca = dense[:, a] - dense[ra, a].mean() if ra.any() else np.zeros(30)
            cb = dense[:, b] - dense[rb, b].mean() if rb.any() else np.zeros(30)
            both = ra & rb
            den = np.sqrt((ca[both] ** 2).sum() * (cb[both] ** 2).sum())
            want = (ca[both] * cb[both]).sum() / den if den > 0 else 0.0
            assert sim[a, b] == pytest.approx(want, abs=1e-5)


def test_pearson_reads_explicit_ratings() -> None:
    data = _likes(RATINGS, kind="rating")  # 1..2 negative, 3 read, 4..5 positive
    model = create("item_knn", similarity="pearson", neighbours=5, shrinkage=0).fit(data)
    # only (i1, i2) correlate positively
    assert model.similarity.toarray() == pytest.approx(np.array([[0, 0, 0], [0, 0, 1], [0, 1, 0]]))


def test_pearson_refuses_binary_values() -> None:
    with pytest.raises(ValueError, match="pearson"):
        create("item_knn", similarity="pearson", binary=True)


@pytest.mark.parametrize("kind", ["cosine", "bm25", "tfidf"])
def test_weighting_matches_implicit(kind: str, rng: np.random.Generator) -> None:
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender, TFIDFRecommender
    from implicit.utils import ParameterWarning

    reference = {"cosine": CosineRecommender, "bm25": BM25Recommender, "tfidf": TFIDFRecommender}
    counts = sp.random(80, 25, density=0.2, format="csr", random_state=3, dtype=np.float64)
    counts.data = np.ceil(counts.data * 4)
    theirs = reference[kind](K=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParameterWarning)
        theirs.fit(counts, show_progress=False)
    expected = theirs.similarity.toarray()
    np.fill_diagonal(expected, 0)
    expected[expected < 0] = 0
    fitted = RowSimilarity.fit(counts.T, kind)
    np.testing.assert_allclose(fitted.neighbours(30).toarray(), expected, rtol=1e-4, atol=1e-6)
    # the block-wise path (taken with shrinkage) computes the same pairs
    blockwise = RowSimilarity.fit(counts.T, kind, shrinkage=1e-9).neighbours(30).toarray()
    np.testing.assert_allclose(blockwise, expected, rtol=1e-4, atol=1e-6)


def test_neighbours_are_capped_per_item() -> None:
    from tests.synthetic import make_synthetic

    model = create("item_knn", neighbours=3).fit(make_synthetic())
    per_item = np.diff(model.similarity.indptr)
    assert per_item.max() == 3
    assert (model.similarity.diagonal() == 0).all()


def test_pearson_is_shrunk_unless_told_otherwise() -> None:
    assert create("item_knn", similarity="pearson").config.shrinkage == 100
    assert create("item_knn", similarity="pearson", shrinkage=0).config.shrinkage == 0
    assert create("item_knn", similarity="cosine").config.shrinkage == 0
    config = create("user_knn", similarity="pearson").config
    assert type(config).model_validate_json(config.model_dump_json()) == config
