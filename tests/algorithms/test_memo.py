"""The fold-in memo: bounded, keyed by exact content, and never changing an answer."""

from __future__ import annotations

from functools import partial

import numpy as np
import scipy.sparse as sp

from recserve.algorithms import create
from recserve.algorithms.base import Recommender
from recserve.algorithms.factor_base import FactorModel
from recserve.algorithms.hybrid import Hybrid
from recserve.algorithms.memo import BytesMemo, MemoisedTopN, request_key
from tests.synthetic import make_synthetic


def test_memo_computes_once_per_key_and_forgets_the_oldest_first() -> None:
    memo = BytesMemo(capacity=2)
    calls: list[str] = []

    def compute(name: str) -> np.ndarray:
        calls.append(name)
        return np.array([len(calls)], dtype=np.float32)

    assert memo.get(b"a", lambda: compute("a"))[0] == 1
    assert memo.get(b"a", lambda: compute("a"))[0] == 1  # memoised
    memo.get(b"b", lambda: compute("b"))
    memo.get(b"c", lambda: compute("c"))  # capacity 2: "a" goes
    assert len(memo) == 2
    assert memo.get(b"a", lambda: compute("a"))[0] == 4
    assert calls == ["a", "b", "c", "a"]
    assert not memo.get(b"a", lambda: compute("x")).flags.writeable  # shared: read-only


def test_keys_differ_by_dtype_shape_and_content() -> None:
    a = np.array([1, 2], dtype=np.int32)
    keys = {
        request_key(a),
        request_key(a.astype(np.int64)),
        request_key(a.reshape(2, 1)),
        request_key(np.array([1, 3], dtype=np.int32)),
        request_key(a, a),
    }
    assert len(keys) == 5
    assert request_key(a) == request_key(a.copy())


def row(indices: list[int], n_items: int, weight: float = 1.0) -> sp.csr_matrix:
    data = np.full(len(indices), weight, dtype=np.float32)
    return sp.csr_matrix((data, (np.zeros(len(indices), int), indices)), shape=(1, n_items))


def test_memoised_fold_in_equals_a_fresh_one_and_follows_a_changed_history() -> None:
    data = make_synthetic()
    for family in ("als", "bpr", "nmf"):
        model = create(family, factors=8).fit(data)
        assert isinstance(model, FactorModel)
        user = np.array([-1])  # an anonymous request: only its history speaks
        history = row([0, 3, 5], model.n_items)
        first = model.query_vectors(user, history)
        again = model.query_vectors(user, history.copy())  # same content: the memo answers
        np.testing.assert_array_equal(first, again)
        assert len(model._fold_ins) == 1
        fresh = model._fold_in(user, history)  # no memo
        np.testing.assert_allclose(first, fresh, rtol=1e-6)
        changed = model.query_vectors(user, row([0, 3, 5, 7], model.n_items))
        assert not np.allclose(changed, first)  # a new event: a new key, a new vector
        heavier = model.query_vectors(user, row([0, 3, 5], model.n_items, 3.0))
        # ALS reads the confidences (BPR and NMF binarise): weights are part of the key
        assert family != "als" or not np.allclose(heavier, first)
        assert len(model._fold_ins) == 3
        changed[:] = 0  # callers get their own copy
        np.testing.assert_array_equal(model.query_vectors(user, history), first)


def test_memoised_top_n_equals_an_unmemoised_one_and_follows_every_input() -> None:
    """EASE, the sequential models and the hybrid (the model search's fusion) memoise a
    user's list; every input is part of the key: the same request gets the list computed
    without the memo, a changed one a new list."""
    data = make_synthetic()
    ease = create("ease").fit(data)
    sasrec = create("sasrec", epochs=1, validation_users=0).fit(data)
    models = [ease, sasrec, Hybrid.from_fitted([sasrec, ease], data, weights=[2.0, 1.0])]
    for model in models:
        assert isinstance(model, MemoisedTopN)
        n_items = model.n_items
        unmemoised = partial(Recommender.recommend, model)  # the base class: no memo
        cases = [
            (np.array([2]), None, 5, None, None),
            (np.array([2]), row([0, 3, 5], n_items), 5, None, [np.array([0, 3, 5])]),
            (np.array([2]), row([0, 3, 5], n_items), 5, row([1, 2], n_items), None),
            (np.array([2]), row([0, 3, 5], n_items), 8, row([1, 2], n_items), None),
            (np.array([-1]), row([0, 3, 5, 7], n_items), 5, None, [np.array([5, 3, 0, 7])]),
        ]
        lists = []
        for case in cases:
            first = model.recommend(*case)
            again = model.recommend(*case)  # the memo answers
            for got in (first, again):
                np.testing.assert_array_equal(got[0], unmemoised(*case)[0])
                np.testing.assert_allclose(got[1], unmemoised(*case)[1], rtol=1e-6)
            lists.append(first[0].tolist())
        assert len(model._top_n_memo) == len(cases)  # one entry per distinct request
        assert 1 not in lists[2][0] and 2 not in lists[2][0]  # exclusions are in the key
        both = model.recommend(np.array([2, 3]), None, 5)  # several users: not memoised
        np.testing.assert_array_equal(both[0], unmemoised(np.array([2, 3]), None, 5)[0])


def test_item_neighbourhood_sparse_top_n_equals_the_dense_one() -> None:
    """Item-kNN ranks one user's positive scores only (when there are n of them, else the
    dense path answers); the list is the dense path's."""
    data = make_synthetic()
    model = create("item_knn", neighbours=20).fit(data)
    n_items = model.n_items
    dense = partial(Recommender.recommend, model)
    for user in range(0, data.n_users, 7):
        for history, exclude in (
            (None, None),
            (row([user % n_items], n_items), None),
            (row([0, 1, 13], n_items), row([2, 3, 4], n_items)),
        ):
            for n in (3, 10, n_items):
                sequences = [np.arange(3)]  # serving passes one, which item-kNN ignores
                got = model.recommend(np.array([user]), history, n, exclude, sequences)
                want = dense(np.array([user]), history, n, exclude)
                np.testing.assert_allclose(got[1], want[1], rtol=1e-6)  # same scores in order
                # the same items, but for ties at the last place (which the dense path breaks
                # arbitrarily, the sparse one by index)
                last = want[1][0][-1]
                assert above(*got, last) == above(*want, last)


def above(ids: np.ndarray, scores: np.ndarray, threshold: float) -> set[int]:
    """The items of a one-user list scoring strictly above ``threshold``."""
    return set(ids[0][scores[0] > threshold].tolist())
