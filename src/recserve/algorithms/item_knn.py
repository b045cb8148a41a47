"""Item-based nearest neighbours: "customers who liked X also liked".

The item-item similarity is learned by the ``implicit`` library (top-K neighbours per
item). Scores for a user are ``history @ similarity``, computed from the user's current
history at request time, so a new event changes the next answer without retraining.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import ModelConfig, Recommender, csr_restore, csr_state, top_n
from recserve.data import Dataset


class ItemKNNConfig(ModelConfig):
    similarity: Literal["cosine", "bm25", "tfidf"] = "cosine"
    neighbours: int = Field(default=100, ge=1, le=10_000)
    binary: bool = Field(default=False, description="Use 0/1 interactions instead of confidences.")
    bm25_k1: float = Field(default=1.2, gt=0)
    bm25_b: float = Field(default=0.75, ge=0, le=1)


def _implicit_model(config: ItemKNNConfig):  # type: ignore[no-untyped-def]
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender, TFIDFRecommender

    if config.similarity == "bm25":
        return BM25Recommender(K=config.neighbours, K1=config.bm25_k1, B=config.bm25_b)
    if config.similarity == "tfidf":
        return TFIDFRecommender(K=config.neighbours)
    return CosineRecommender(K=config.neighbours)


class ItemKNN(Recommender[ItemKNNConfig]):
    family = "item_knn"
    config_class = ItemKNNConfig
    uses_history = True
    supports_similar_items = True

    def _fit(self, data: Dataset) -> None:
        matrix = data.positive_matrix()
        if self.config.binary:
            matrix = matrix.copy()
            matrix.data[:] = 1.0
        model = _implicit_model(self.config)
        from implicit.utils import ParameterWarning

        with warnings.catch_warnings():  # implicit converts to CSR internally and warns about it
            warnings.simplefilter("ignore", category=ParameterWarning)
            model.fit(matrix, show_progress=False)
        similarity = sp.csr_matrix(model.similarity, dtype=np.float32)
        similarity.setdiag(0.0)
        similarity.eliminate_zeros()
        self.similarity = similarity
        # the user's trained history is the fallback when the request brings none
        self.trained_history = matrix

    def _effective_history(self, users: np.ndarray, history: sp.csr_matrix | None) -> sp.csr_matrix:
        """The request's history; rows without one fall back to what the user had at training."""
        if history is None:
            history = sp.csr_matrix((len(users), self.n_items), dtype=np.float32)
        empty = np.diff(history.indptr) == 0
        if not (empty & (users >= 0)).any():
            return history
        rows = self.trained_history[np.clip(users, 0, None)]
        keep = sp.diags((empty & (users >= 0)).astype(np.float32))
        return sp.csr_matrix(history + keep @ rows)

    def has_signal(self, users: np.ndarray, history: sp.csr_matrix | None = None) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        return np.diff(self._effective_history(users, history).indptr) > 0

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        history = self._effective_history(users, history)
        return np.asarray((history @ self.similarity).todense(), dtype=np.float32)

    def similar_items(self, items: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        known = items >= 0
        rows = self.similarity[np.clip(items, 0, None)].toarray()
        rows[~known] = 0.0
        rows[rows <= 0] = -np.inf
        return top_n(rows, n)

    def _state(self) -> dict[str, np.ndarray]:
        return {**csr_state("similarity", self.similarity), **csr_state("history", self.trained_history)}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.similarity = csr_restore("similarity", arrays)
        self.trained_history = csr_restore("history", arrays)
