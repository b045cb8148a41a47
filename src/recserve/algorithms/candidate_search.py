"""Top-n through an approximate candidate index, re-scored exactly.

A model whose scores are the inner product of a query vector with an item table (factor
models; the sequential models, whose query is the network's last hidden state) can answer
a request from a few times ``n`` candidates of a maximum-inner-product index instead of a
pass over every item. The serving layer builds the index (faiss, serving/retrieval.py) and
attaches it; the model over-fetches ``n`` plus the excluded items, scores those exactly and
filters, so scores stay exact and only recall is approximate. A row with a huge exclusion
set, or where too few candidates survive, takes the exact path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp

# fetch at least this many times n, and take the exact path for a user who excludes more
# items than this (over-fetching past them would cost more than the exact pass)
CANDIDATE_OVERFETCH = 4
CANDIDATE_MAX_EXCLUDED = 5000


class CandidateIndex(Protocol):
    """Approximate top-k by inner product over a model's ``retrieval_vectors()`` rows.

    Built and attached by the serving layer (algorithms never depend on faiss's lifetime).
    """

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Per query row up to ``k`` item indices, best first, padded with -1."""
        ...


def excluded_rows(exclude: sp.csr_matrix | None, n_rows: int) -> list[np.ndarray]:
    """Per row the sorted, unique item indices marked (non-zero) in ``exclude``."""
    if exclude is None:
        return [np.empty(0, dtype=np.int64)] * n_rows
    if not sp.isspmatrix_csr(exclude):
        exclude = sp.csr_matrix(exclude)
    indptr, indices, data = exclude.indptr, exclude.indices, exclude.data
    out = []
    for r in range(n_rows):  # straight from the CSR arrays: per request this is one row
        part = slice(indptr[r], indptr[r + 1])
        out.append(np.unique(indices[part][data[part] != 0]).astype(np.int64))
    return out


def _sorted_contains(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Per query whether it is in ``sorted_values`` (one binary search each: cheaper than
    ``np.isin``'s sort for the few dozen candidates of a request)."""
    if not len(sorted_values):
        return np.zeros(len(queries), dtype=bool)
    at = np.searchsorted(sorted_values, queries).clip(max=len(sorted_values) - 1)
    return sorted_values[at] == queries


def best_candidates(
    candidates: np.ndarray,
    vectors: np.ndarray,
    query: np.ndarray,
    n: int,
    excluded: np.ndarray,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best of an index's candidate rows by exact inner product with ``query``:
    padding (-1), rows in the sorted ``excluded`` and rows not ``allowed`` left out; fewer
    than ``n`` when fewer are left. Serving's re-scoring, shared with the index calibration
    (serving/retrieval.py) so both measure the same thing."""
    keep = candidates >= 0
    if allowed is not None:
        keep &= allowed[candidates]  # -1 reads the last row: masked by the first test
    if len(excluded):
        keep &= ~_sorted_contains(excluded, candidates)
    found = candidates[keep]
    scores = vectors[found] @ query
    best = np.argsort(-scores, kind="stable")[:n]
    return found[best], scores[best]


def rescored(
    candidates: np.ndarray,
    vectors: np.ndarray,
    query: np.ndarray,
    n: int,
    excluded: np.ndarray,
    allowed: np.ndarray | None = None,
    offset: float = 0.0,
) -> tuple[np.ndarray, np.ndarray] | None:
    """``best_candidates`` with ``offset`` added to the scores (a model's per-row bias);
    None when fewer than ``n`` are left: the probed part of the index ran short, and the
    exact path must answer."""
    found, scores = best_candidates(candidates, vectors, query, n, excluded, allowed)
    if len(found) < n:
        return None
    return found, (scores + offset).astype(np.float32)


def indexed_top_n(
    index: CandidateIndex,
    vectors: np.ndarray,
    query: np.ndarray,
    n: int,
    excluded: np.ndarray,
    allowed: np.ndarray | None = None,
    offset: float = 0.0,
) -> tuple[np.ndarray, np.ndarray] | None:
    """One query's top ``n`` through ``index``: ``n`` plus the excluded items over-fetched,
    then ``rescored``; None where the exact path must answer."""
    k = max(n * CANDIDATE_OVERFETCH, n + len(excluded))
    candidates = index.search(np.ascontiguousarray(query[None], dtype=np.float32), k)[0]
    return rescored(candidates, vectors, query, n, excluded, allowed, offset)


class IndexedTopN:
    """A mixin: one request's top-n through an attached ``CandidateIndex``.

    The family supplies ``retrieval_vectors()`` (the item table its scores are inner products
    with) and ``retrieval_query(users, history, sequences)`` (one request's query row, or
    None when it has nothing to go on: the exact path then answers, with its fallbacks).
    Batches and requests the index cannot serve take the family's exact ``recommend``.
    Put it after any memo and before the family's base class.
    """

    _candidates: CandidateIndex | None = None

    def attach_candidates(self, index: CandidateIndex | None) -> None:
        """Serve one request's top-n through ``index`` (None: the exact path again)."""
        self._candidates = index

    @property
    def candidate_index(self) -> CandidateIndex | None:
        return self._candidates

    def retrieval_vectors(self) -> np.ndarray:
        raise NotImplementedError

    def calibration_queries(self, size: int) -> np.ndarray:
        """Up to ``size`` query rows like serving's, to calibrate an index on."""
        raise NotImplementedError

    def retrieval_query(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None,
        sequences: Sequence[np.ndarray] | None,
    ) -> np.ndarray | None:
        raise NotImplementedError

    def recommend(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        n: int = 10,
        exclude: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        index = self._candidates
        users = np.asarray(users, dtype=np.int64)
        if index is not None and n > 0 and len(users) == 1:
            found = self._indexed_one(index, users, history, n, exclude, sequences)
            if found is not None:
                return found
        return super().recommend(users, history, n, exclude, sequences)  # type: ignore[misc]

    def _indexed_one(
        self,
        index: CandidateIndex,
        users: np.ndarray,
        history: sp.csr_matrix | None,
        n: int,
        exclude: sp.csr_matrix | None,
        sequences: Sequence[np.ndarray] | None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        excluded = excluded_rows(exclude, 1)[0]
        if len(excluded) > CANDIDATE_MAX_EXCLUDED:
            return None
        query = self.retrieval_query(users, history, sequences)
        if query is None:
            return None
        found = indexed_top_n(index, self.retrieval_vectors(), query, n, excluded)
        return None if found is None else (found[0][None], found[1][None])
