"""The shared base of non-personalised models: one learned score per item, one list for all."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from recserve.algorithms.base import ModelConfig, Recommender, top_n

Config = TypeVar("Config", bound=ModelConfig)


class GlobalRanking(Recommender[Config]):
    """Non-personalised models: one learned score per item, the same list for everyone.

    Subclasses set ``self.scores`` (float32, one per item) in ``_fit``.
    """

    personalised = False
    scores: np.ndarray

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.scores, (len(users), self.n_items))

    def _state(self) -> dict[str, np.ndarray]:
        return {"scores": self.scores}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.scores = arrays["scores"]

    @property
    def order(self) -> np.ndarray:
        """Every item index, best trained score first (ties: lower index first); sorted
        once per ``scores`` array and kept, so serving a 1M-item list needs no sort."""
        cached = getattr(self, "_order", None)
        if cached is not None and cached[0] is self.scores:
            return cached[1]
        order = np.argsort(-self.scores, kind="stable").astype(np.int64)
        order.setflags(write=False)
        self._order = (self.scores, order)
        return order

    def ranking(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The global top-n (item indices, scores)."""
        self._check_fitted()
        ids, scores = top_n(self.scores[None, :], n)
        return ids[0], scores[0]
