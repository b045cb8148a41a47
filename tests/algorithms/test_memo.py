"""The fold-in memo: bounded, keyed by exact content, and never changing an answer."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recserve.algorithms import create
from recserve.algorithms.factor_base import FactorModel
from recserve.algorithms.memo import BytesMemo, request_key
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
