from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recserve.algorithms import create
from recserve.algorithms.neural.ranker import FMRanker, _labelled_events, rerank
from recserve.config import default_feedback_types
from recserve.data import Dataset
from recserve.evaluation.metrics import auc, log_loss, ndcg_at_k
from recserve.evaluation.protocol import ranking_targets
from recserve.evaluation.splitters import leave_last_out, random_holdout
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import make_synthetic

FAST: dict[str, Any] = {
    "epochs": 12,
    "batch_size": 128,
    "validation_fraction": 0.0,
    "threads": 1,
    "device": "cpu",
}


class TestFMRanker(RecommenderBehaviour):
    family = "fm_ranker"
    params = FAST


class TestDeepFM(RecommenderBehaviour):
    family = "fm_ranker"
    params = {**FAST, "deep": True, "hidden": (32, 16)}


@pytest.fixture(scope="module")
def data() -> Dataset:
    return make_synthetic()


@pytest.fixture(scope="module")
def fm(data: Dataset) -> FMRanker:
    return create("fm_ranker", **FAST).fit(data)  # type: ignore[return-value]


def test_auc_and_log_loss_on_held_out_events(data: Dataset) -> None:
    """Held-out likes against held-out dislikes and as many items the user never touched."""
    split = random_holdout(data, test_fraction=0.25, seed=3)
    model = create("fm_ranker", **FAST).fit(split.train)
    test = split.test
    labelled = test.kind != 0
    users, items = test.user[labelled].astype(np.int64), test.item[labelled].astype(np.int64)
    labels = (test.kind[labelled] == 1).astype(np.float64)
    rng = np.random.default_rng(0)
    touched = data.seen_matrix()
    n_unseen = int(labels.sum())
    unseen_users = rng.choice(data.n_users, 4 * n_unseen)
    unseen_items = rng.choice(data.n_items, 4 * n_unseen)
    untouched = np.asarray(touched[unseen_users, unseen_items]).ravel() == 0
    users = np.concatenate([users, unseen_users[untouched][:n_unseen]])
    items = np.concatenate([items, unseen_items[untouched][:n_unseen]])
    labels = np.concatenate([labels, np.zeros(n_unseen)])
    p = model.predict_proba(users, items)
    assert ((p > 0) & (p < 1)).all()
    area, loss = auc(labels, p), log_loss(labels, p)
    print(f"fm_ranker held-out AUC {area:.3f}, log loss {loss:.3f} ({len(labels)} events)")
    assert area > 0.8
    assert loss < np.log(2), "better than a coin"


def test_rank_agrees_with_score(fm: FMRanker, data: Dataset) -> None:
    users = np.array([0, 7, 33])
    candidates = np.array([[5, 1, -1], [20, 40, 3], [47, 47, 0]])
    logits = fm.rank(users, candidates, probabilities=False)
    full = fm.score(users)
    for row, (u_row, c_row) in enumerate(zip(full, candidates, strict=True)):
        real = c_row >= 0
        np.testing.assert_allclose(logits[row, real], u_row[c_row[real]], rtol=1e-4, atol=1e-5)
    assert np.isneginf(logits[0, 2])
    p = fm.rank(users, candidates)
    np.testing.assert_allclose(p[:, :2], 1 / (1 + np.exp(-logits[:, :2])), rtol=1e-5)
    with pytest.raises(ValueError):
        fm.rank(users, candidates[:2])
    with pytest.raises(ValueError):
        fm.rank(users, np.full((3, 2), data.n_items))


def test_deep_fm_rank_agrees_with_score(data: Dataset) -> None:
    model = create("fm_ranker", **{**FAST, "deep": True, "hidden": (16,), "epochs": 2}).fit(data)
    users = np.array([1, 2])
    candidates = np.tile(np.arange(data.n_items), (2, 1))
    np.testing.assert_allclose(
        model.rank(users, candidates, probabilities=False), model.score(users), rtol=1e-4, atol=1e-5
    )


def test_hour_of_day_is_context(fm: FMRanker) -> None:
    users, candidates = np.array([0, 0]), np.array([[3, 4], [3, 4]])
    at = fm.rank(users, candidates, hours=np.array([2, 14]))
    assert at.shape == (2, 2) and np.isfinite(at).all()
    unknown = fm.rank(users[:1], candidates[:1])
    assert not np.array_equal(at[0], unknown[0]) or not np.array_equal(at[1], unknown[0])
    with pytest.raises(ValueError):
        fm.rank(users, candidates, hours=np.array([2, 25]))


def test_an_unknown_user_is_ranked_from_history(fm: FMRanker, data: Dataset) -> None:
    history = sp.csr_matrix(([1.0, 1.0], ([0, 0], [13, 14])), shape=(1, data.n_items))  # block 1
    assert not fm.has_signal(np.array([-1]))[0] and fm.has_signal(np.array([-1]), history)[0]
    p = fm.rank(np.array([-1]), np.array([[15, 16, 1, 40]]), history=history)[0]
    assert min(p[:2]) > max(p[2:])


def ndcg_of(lists: np.ndarray, relevant: sp.csr_matrix) -> float:
    return ndcg_at_k(lists, relevant, 10)


@pytest.mark.parametrize("retrieval", ["popular", "two_tower"])
def test_rerank_improves_or_keeps_ndcg(retrieval: str, data: Dataset) -> None:
    split = leave_last_out(data, n=2)
    targets = ranking_targets(split)
    params = {"use_text": False, "epochs": 10, "threads": 1, "validation_fraction": 0.0}
    retriever = create(retrieval, **(params if retrieval == "two_tower" else {})).fit(split.train)
    ranker = create("fm_ranker", **FAST).fit(split.train)
    alone, _ = retriever.recommend(targets.users, n=10, exclude=targets.exclude)
    ids, scores = rerank(
        retriever, ranker, targets.users, n=10, candidates=30, exclude=targets.exclude
    )
    assert ids.shape == (len(targets.users), 10) and scores.dtype == np.float32
    for row, excluded in zip(ids, targets.exclude, strict=True):
        assert not set(row.tolist()) & set(excluded.indices.tolist())
    before, after = ndcg_of(alone, targets.relevant), ndcg_of(ids, targets.relevant)
    print(f"{retrieval}: NDCG@10 {before:.3f} alone, {after:.3f} re-ranked by fm_ranker")
    assert after >= before - 0.02
    if retrieval == "popular":
        assert after > before + 0.1, "a personal ranker beats a popularity list"


def test_rerank_keeps_retrieval_order_where_the_ranker_has_no_signal(
    fm: FMRanker, data: Dataset
) -> None:
    popular = create("popular").fit(data)
    ids, scores = rerank(popular, fm, np.array([-1, 0]), n=5, candidates=10)
    alone, alone_scores = popular.recommend(np.array([-1]), n=5)
    np.testing.assert_array_equal(ids[0], alone[0])
    np.testing.assert_allclose(scores[0], alone_scores[0])
    assert (np.diff(scores[1]) <= 0).all() and (scores[1] <= 1).all()
    tiny = Dataset.from_events(
        np.array(["u"], dtype=object),
        np.array(["i"], dtype=object),
        np.array(["like"], dtype=object),
        np.array([np.nan]),
        np.array([0.0]),
        default_feedback_types(),
    )
    other = create("popular").fit(tiny)
    with pytest.raises(ValueError):
        rerank(other, fm, np.array([0]), n=5)


def test_read_events_are_negatives_unless_the_pair_has_a_positive() -> None:
    events = [("a", "x", "view"), ("a", "x", "purchase"), ("a", "y", "view"), ("b", "x", "dislike")]
    users, items, types = (np.array(col, dtype=object) for col in zip(*events, strict=True))
    data = Dataset.from_events(
        users, items, types, np.full(4, np.nan), np.arange(4) * 3600.0, default_feedback_types()
    )
    u, i, labels, hours = _labelled_events(data, read_as_negative=True)
    got = {
        (data.users.ids[a], data.items.ids[b], float(c))
        for a, b, c in zip(u, i, labels, strict=True)
    }
    assert got == {("a", "x", 1.0), ("a", "y", 0.0), ("b", "x", 0.0)}
    assert set(hours.tolist()) <= {1, 2, 3}
    u, _, labels, _ = _labelled_events(data, read_as_negative=False)
    assert len(u) == 2 and labels.sum() == 1


def test_early_stopping_on_validation_auc(data: Dataset) -> None:
    model = create(
        "fm_ranker", **{**FAST, "validation_fraction": 0.2, "epochs": 5, "patience": 2}
    ).fit(data)
    scores = [log.validation for log in model.history]
    assert 1 <= len(scores) <= 5
    assert all(s is not None and 0.5 < s <= 1 for s in scores)
