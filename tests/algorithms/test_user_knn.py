import numpy as np

from recserve.algorithms import create
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import item_block, make_synthetic, user_block


class TestUserKNNCosine(RecommenderBehaviour):
    family = "user_knn"
    params = {"similarity": "cosine", "neighbours": 10}


class TestUserKNNPearson(RecommenderBehaviour):
    family = "user_knn"
    params = {"similarity": "pearson", "neighbours": 10}


class TestUserKNNJaccard(RecommenderBehaviour):
    family = "user_knn"
    params = {"similarity": "jaccard", "neighbours": 10, "shrinkage": 2.0}


class TestUserKNNBM25(RecommenderBehaviour):
    family = "user_knn"
    params = {"similarity": "bm25", "neighbours": 10}


def test_history_of_a_known_user_reproduces_the_trained_neighbours() -> None:
    data = make_synthetic()
    # more neighbours than similar users: no ties at the top-K boundary to break differently
    model = create("user_knn", neighbours=100).fit(data)
    users = np.arange(12)
    history = data.positive_matrix()[users]
    np.testing.assert_allclose(model.score(users, history), model.score(users), rtol=1e-5)


def test_unknown_user_is_folded_in_from_the_history() -> None:
    data = make_synthetic()
    model = create("user_knn", neighbours=5).fit(data)
    positives = data.positive_matrix()
    history = positives[[20]]  # an anonymous session that looks exactly like user 20
    scores = model.score(np.array([-1]), history)[0]
    # the five users most similar (cosine) to that history, user 20 itself included
    rows = positives.toarray()
    h = history.toarray()[0]
    cosine = rows @ h / (np.linalg.norm(rows, axis=1) * np.linalg.norm(h) + 1e-12)
    top = np.argsort(-cosine, kind="stable")[:5]
    np.testing.assert_allclose(scores, cosine[top] @ rows[top], rtol=1e-4, atol=1e-6)


def test_pearson_history_without_variance_falls_back() -> None:
    data = make_synthetic()
    model = create("user_knn", similarity="pearson", neighbours=10).fit(data)
    history = data.positive_matrix()[[3]]  # all confidences equal: no Pearson possible
    assert (model.score(np.array([3]), history) == model.score(np.array([3]))).all()
    ids, _ = model.recommend(np.array([-1]), history, n=5, exclude=history)
    assert [item_block(i) for i in ids[0]] == [user_block(3)] * 5


def test_similar_users_exclude_oneself() -> None:
    model = create("user_knn", similarity="jaccard", neighbours=5).fit(make_synthetic())
    ids, scores = model.similar_users(np.arange(10), n=5)
    assert all(u not in row for u, row in enumerate(ids))
    assert (scores[:, :-1] >= scores[:, 1:]).all()
