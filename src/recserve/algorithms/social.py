"""People you may know: friends of friends blended with taste, and what friends liked.

The friend graph is ``Dataset.relations`` made symmetric (a friendship listed one way counts
both ways). Two signals, each scaled to at most 1 per request row, are blended with
``graph_weight`` (1: graph only, 0: taste only):

* **graph**: for a pair (u, v), the friends they share, counted plainly
  (``common_neighbours``) or each weighted ``1 / log(degree)`` (``adamic_adar``: a shared
  friend with few friends says more than a hub everybody knows);
* **taste**: cosine similarity of the two users' binarised positive items.

``similar_users`` ranks other users by the blend, never the user nor their current friends.
``recommend`` blends what the user's friends liked (``friends @ positives``) with what the
``neighbours`` users most similar in taste to the user's *current* history liked, so a new
event changes the next answer at once, as for user-kNN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import ModelConfig, Recommender, csr_restore, csr_state, top_n
from recserve.algorithms.similarity import binarised, effective_history, top_k_rows
from recserve.data import Dataset


class SocialConfig(ModelConfig):
    graph_weight: float = Field(
        default=0.7, ge=0, le=1, description="Share of the friend graph in the blend (vs taste)."
    )
    graph_score: Literal["adamic_adar", "common_neighbours"] = "adamic_adar"
    neighbours: int = Field(
        default=50, ge=1, le=10_000, description="Taste neighbours whose items are recommended."
    )

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "graph_weight": trial.suggest_float("graph_weight", 0.0, 1.0),
            "neighbours": trial.suggest_int("neighbours", 10, 200, log=True),
        }


def friend_graph(data: Dataset) -> sp.csr_matrix:
    """Symmetric binary users x users friendships, no self-loops."""
    n = data.n_users
    if data.relations is None or not len(data.relations[0]):
        return sp.csr_matrix((n, n), dtype=np.float32)
    a, b = (np.asarray(x, dtype=np.int64) for x in data.relations)
    keep = a != b
    rows, cols = np.concatenate([a[keep], b[keep]]), np.concatenate([b[keep], a[keep]])
    graph = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n))
    graph.sum_duplicates()
    graph.data[:] = 1.0
    graph.sort_indices()
    return graph


def unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to L2 norm 1 (empty rows stay empty)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1), dtype=np.float64).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inverse.astype(np.float32)) @ matrix, dtype=np.float32)


def row_max_scaled(scores: np.ndarray) -> np.ndarray:
    """Each row divided by its largest positive value, so blended signals share one scale."""
    top = scores.max(axis=1, initial=0.0, where=np.isfinite(scores))
    return np.divide(scores, top[:, None], out=np.zeros_like(scores), where=top[:, None] > 0)


class Social(Recommender[SocialConfig]):
    """Friends of friends blended with taste similarity; items liked by friends."""

    family = "social"
    config_class = SocialConfig
    uses_history = True
    supports_similar_users = True
    needs_relations = True  # blends the friend graph itself; off default boards without one

    friends: sp.csr_matrix  # users x users, symmetric binary
    positives: sp.csr_matrix  # users x items, binary positive feedback at fit time
    _unit: sp.csr_matrix  # positives with unit rows (cosine)
    _hub_weight: sp.dia_matrix  # per user: their weight as a shared friend

    def _fit(self, data: Dataset) -> None:
        self.friends = friend_graph(data)
        self.positives = binarised(data.positive_matrix())
        self._prepare()

    def _prepare(self) -> None:
        self._unit = unit_rows(self.positives)
        degree = np.diff(self.friends.indptr).astype(np.float64)
        if self.config.graph_score == "adamic_adar":
            weight = 1.0 / np.log(np.maximum(degree, 2.0))
        else:
            weight = np.ones_like(degree)
        self._hub_weight = sp.diags(weight.astype(np.float32))

    # people -----------------------------------------------------------------------------------

    def graph_scores(self, users: np.ndarray) -> np.ndarray:
        """Dense rows x users shared-friend scores (zero rows for unknown users)."""
        rows = self.friends[np.clip(users, 0, None)]
        scores = np.asarray((rows @ self._hub_weight @ self.friends).todense(), np.float32)
        scores[users < 0] = 0.0
        return scores

    def taste_scores(self, users: np.ndarray) -> np.ndarray:
        """Dense rows x users cosine of binarised positive items (zero rows for unknown users)."""
        rows = self._unit[np.clip(users, 0, None)]
        scores = np.asarray((rows @ self._unit.T).todense(), np.float32)
        scores[users < 0] = 0.0
        return scores

    def similar_users(self, users: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Other users by the blended score, without the user and their current friends."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        w = self.config.graph_weight
        scores = np.zeros((len(users), self.friends.shape[0]), dtype=np.float32)
        if w > 0:
            scores += w * row_max_scaled(self.graph_scores(users))
        if w < 1:
            scores += (1 - w) * row_max_scaled(self.taste_scores(users))
        known = np.flatnonzero(users >= 0)
        friends = self.friends[users[known]]
        scores[np.repeat(known, np.diff(friends.indptr)), friends.indices] = 0.0
        scores[known, users[known]] = 0.0
        scores[scores <= 0] = -np.inf
        return top_n(scores, n)

    # items ------------------------------------------------------------------------------------

    def _history(self, users: np.ndarray, history: sp.csr_matrix | None) -> sp.csr_matrix:
        return binarised(effective_history(users, super()._history(users, history), self.positives))

    def _friend_items(self, users: np.ndarray) -> sp.csr_matrix:
        rows = self.friends[np.clip(users, 0, None)]
        rows = sp.csr_matrix(sp.diags((users >= 0).astype(np.float32)) @ rows)
        return sp.csr_matrix(rows @ self.positives)

    def _taste_items(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """What the users closest in taste to each current history liked."""
        sims = sp.csr_matrix(unit_rows(history) @ self._unit.T)
        rows = np.repeat(np.arange(sims.shape[0]), np.diff(sims.indptr))
        sims.data[sims.indices == users[rows]] = 0.0  # a user is not their own neighbour
        neighbours = top_k_rows(sims, self.config.neighbours, offset=None)
        return np.asarray((neighbours @ self.positives).todense(), np.float32)

    def has_signal(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        h = self._history(users, history)
        return (np.diff(h.indptr) > 0) | (np.diff(self._friend_items(users).indptr) > 0)

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        w = self.config.graph_weight
        friends = np.asarray(self._friend_items(users).todense(), np.float32)
        taste = self._taste_items(users, history)
        return w * row_max_scaled(friends) + (1 - w) * row_max_scaled(taste)

    # persistence ------------------------------------------------------------------------------

    def _state(self) -> dict[str, np.ndarray]:
        return {**csr_state("friends", self.friends), **csr_state("positives", self.positives)}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.friends = csr_restore("friends", arrays)
        self.positives = csr_restore("positives", arrays)
        self._prepare()
