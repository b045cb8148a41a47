"""User-based nearest neighbours: "people like you liked", and "people you may know".

A user's scores are ``sum over their K most similar users v of sim(u, v) * v's positives``.
Known users without a request history use the neighbours found at training time. A request
history (new events, or an anonymous user's session) is folded in: its similarity to every
training user is computed on the spot with the training statistics, so real-time works for
unknown users too.

Pearson is learned on explicit ratings when the data has them, while a request history holds
positive confidences, often all equal, for which Pearson is undefined. Such a history falls
back to the user's training neighbours when the user is known, and to cosine similarity on
positive feedback otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import Recommender, csr_restore, csr_state, top_n
from recserve.algorithms.similarity import (
    NeighbourhoodConfig,
    RowSimilarity,
    binarised,
    canonical,
    fit_row_similarity,
    positive_values,
    similarity_input,
    top_k_rows,
)
from recserve.data import Dataset


class UserKNNConfig(NeighbourhoodConfig):
    neighbours: int = Field(default=50, ge=1, le=10_000, description="Top-K users kept per user.")


class UserKNN(Recommender[UserKNNConfig]):
    family = "user_knn"
    config_class = UserKNNConfig
    uses_history = True
    supports_similar_users = True

    user_similarity: RowSimilarity
    neighbours: sp.csr_matrix  # users x users, top-K per row
    interactions: sp.csr_matrix  # users x items, what a neighbour contributes
    fallback: RowSimilarity | None  # cosine on positives, for pearson's degenerate histories

    def _fit(self, data: Dataset) -> None:
        self.user_similarity = fit_row_similarity(similarity_input(data, self.config), self.config)
        self.neighbours = self.user_similarity.neighbours(self.config.neighbours)
        self.interactions = positive_values(data, self.config.binary)
        self.fallback = None
        if self.config.similarity == "pearson":
            self.fallback = RowSimilarity.fit(self.interactions, "cosine")

    # neighbours of request rows ------------------------------------------------------------

    def _fold_in(self, users: np.ndarray, history: sp.csr_matrix) -> sp.csr_matrix:
        """Top-K neighbours of each row: folded in from its history, else from training."""
        n_users = self.interactions.shape[0]
        with_history = np.diff(history.indptr) > 0
        known = users >= 0
        idx = np.flatnonzero(with_history)
        plain = np.flatnonzero(~with_history & known)
        pieces = [(plain, self.neighbours[users[plain]])]
        if len(idx):
            h = canonical(history[idx])
            h.eliminate_zeros()
            if self.config.binary:
                h = binarised(h)
            if self.fallback is None:
                sims = [(np.arange(len(idx)), self.user_similarity.against(h))]
            else:
                # pearson: a history of equal values has no variance, hence no similarity
                flat, old = _no_variance(h), known[idx]
                sims = [
                    (np.flatnonzero(~flat), self.user_similarity.against(h[~flat])),
                    (np.flatnonzero(flat & old), self.neighbours[users[idx[flat & old]]]),
                    (np.flatnonzero(flat & ~old), self.fallback.against(h[flat & ~old])),
                ]
            sim = _assemble(len(idx), n_users, sims)
            # a known user is not their own neighbour: column u is dropped from row u
            sim = _drop_columns(sim, np.where(known[idx], users[idx], -1))
            pieces.append((idx, top_k_rows(sim, self.config.neighbours, offset=None)))
        return _assemble(len(users), n_users, pieces)

    def has_signal(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        signal = np.zeros(len(users), dtype=bool)
        if history is not None:
            signal |= np.diff(history.indptr) > 0
        known = users >= 0
        signal[known] |= np.diff(self.neighbours[users[known]].indptr) > 0
        return signal

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        neighbours = self._fold_in(users, history)
        return np.asarray((neighbours @ self.interactions).todense(), dtype=np.float32)

    def similar_users(self, users: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        rows = self.neighbours[np.clip(users, 0, None)].toarray()
        rows[users < 0] = 0.0
        rows[rows <= 0] = -np.inf
        return top_n(rows, n)

    # persistence ----------------------------------------------------------------------------

    def _state(self) -> dict[str, np.ndarray]:
        state = {
            **self.user_similarity.state("users"),
            **csr_state("neighbours", self.neighbours),
            **csr_state("interactions", self.interactions),
        }
        if self.fallback is not None:
            state.update(self.fallback.state("fallback"))
        return state

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        c = self.config
        self.user_similarity = RowSimilarity.restore(
            "users", arrays, c.similarity, k1=c.bm25_k1, b=c.bm25_b, shrinkage=c.shrinkage
        )
        self.neighbours = csr_restore("neighbours", arrays)
        self.interactions = csr_restore("interactions", arrays)
        self.fallback = None
        if "fallback.rows.data" in arrays:
            self.fallback = RowSimilarity.restore("fallback", arrays, "cosine")


def _no_variance(rows: sp.csr_matrix) -> np.ndarray:
    """Rows whose stored values are all equal (Pearson is undefined for them)."""
    nonempty = np.diff(rows.indptr) > 0
    starts = rows.indptr[:-1][nonempty]
    high, low = np.zeros(rows.shape[0]), np.zeros(rows.shape[0])
    if len(starts):
        high[nonempty] = np.maximum.reduceat(rows.data, starts)
        low[nonempty] = np.minimum.reduceat(rows.data, starts)
    return high == low


def _assemble(
    n_rows: int, n_cols: int, pieces: list[tuple[np.ndarray, sp.csr_matrix]]
) -> sp.csr_matrix:
    """One CSR matrix from row blocks: ``pieces`` of (row positions, rows); others empty."""
    positions = np.concatenate([rows for rows, _ in pieces] + [np.zeros(0, np.int64)])
    rest = np.setdiff1d(np.arange(n_rows), positions)
    blocks = [sp.csr_matrix(m, dtype=np.float32) for _, m in pieces]
    blocks.append(sp.csr_matrix((len(rest), n_cols), dtype=np.float32))
    stacked = sp.csr_matrix(sp.vstack(blocks, format="csr"))
    return stacked[np.argsort(np.concatenate([positions, rest]), kind="stable")]


def _drop_columns(matrix: sp.csr_matrix, columns: np.ndarray) -> sp.csr_matrix:
    """Drop entry (r, columns[r]) from each row (-1: nothing to drop)."""
    m = sp.csr_matrix(matrix, copy=True)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    m.data[m.indices == columns[rows]] = 0.0
    m.eliminate_zeros()
    return m
