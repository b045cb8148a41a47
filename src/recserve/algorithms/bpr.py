"""Bayesian personalised ranking (Rendle et al. 2009), trained by ``implicit`` (CPU).

BPR learns from which items a user has (the positive pattern; confidences are ignored)
by ranking them above sampled others. ``implicit`` appends an item-bias column to the
item factors (and a constant 1 to the user factors), so scores stay one dot product.

Fold-in: BPR has no closed-form user step, so a request-time history is *projected* onto
the item factors by ridge least squares, ``P h = (Y^T Y + lambda I)^-1 Y^T h`` with ``h`` the
0/1 history row (``lambda``: ``fold_in_regularization``): the vector whose scores best
reproduce "has / has not" over the catalogue. An unknown user gets ``P h``. A known user
keeps the learned vector, moved by the projection of what changed since training:
``x_u + s_u P (h - h_train)``, so an unchanged history gives exactly the trained answer and
a new event (or a removed one) counts at once; ``s_u`` (at least 1) is the mean score
``x_u`` gives the user's trained positives, so a new like lands on the level of the old
ones instead of on BPR's arbitrary unit scale.

Training threads: ``implicit``'s BPR updates shared factors from several threads without
locks (Hogwild), so with ``num_threads`` above 1 the result depends on thread timing;
the default of 1 makes a seed reproduce the model exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import ModelConfig, csr_restore, csr_state
from recserve.algorithms.factor_base import FactorModel, check_finite
from recserve.data import Dataset


class BPRConfig(ModelConfig):
    factors: int = Field(default=64, ge=1, le=1024)
    learning_rate: float = Field(default=0.01, gt=0, le=1)
    regularization: float = Field(default=0.01, ge=0, le=100)
    iterations: int = Field(default=100, ge=1, le=10_000)
    verify_negative_samples: bool = True
    num_threads: int = Field(
        default=1, ge=0, le=1024, description="Training threads (0: all); >1 is not reproducible."
    )
    fold_in_regularization: float = Field(default=1.0, gt=0, le=10_000)

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "factors": trial.suggest_categorical("factors", [32, 64, 128, 256]),
            "learning_rate": trial.suggest_float("learning_rate", 1e-3, 0.1, log=True),
            "regularization": trial.suggest_float("regularization", 1e-4, 0.1, log=True),
            "iterations": trial.suggest_int("iterations", 20, 300, log=True),
        }


class BPR(FactorModel[BPRConfig]):
    family = "bpr"
    config_class = BPRConfig
    uses_history = True

    def _fit(self, data: Dataset) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking
        from threadpoolctl import threadpool_limits

        cfg = self.config
        matrix = data.positive_matrix()
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=cfg.factors,
                learning_rate=cfg.learning_rate,
                regularization=cfg.regularization,
                iterations=cfg.iterations,
                verify_negative_samples=cfg.verify_negative_samples,
                num_threads=cfg.num_threads,
                random_state=cfg.seed,
            )
            model.fit(matrix, show_progress=False)
        check_finite("bpr", model.user_factors, model.item_factors)
        self._set_factors(
            model.user_factors,
            model.item_factors,
            user_support=np.diff(matrix.indptr) > 0,
            servable_items=np.bincount(matrix.indices, minlength=matrix.shape[1]) > 0,
        )
        self.trained_history = _pattern(matrix)

    def _projection(self) -> np.ndarray:
        """``(Y^T Y + lambda I)^-1``, cached."""
        if "projection" not in self._cache:
            gram = self._item_gram()
            ridge = gram + self.config.fold_in_regularization * np.eye(len(gram))
            self._cache["projection"] = np.linalg.inv(ridge)
        return self._cache["projection"]

    def _fold_in(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        known = self._known(users)
        safe = np.where(known, users, 0)
        change = _pattern(history) - sp.diags(known.astype(np.float32)) @ self.trained_history[safe]
        start = np.where(known[:, None], self.user_factors[safe], 0.0)
        shift = np.asarray(change @ self.item_factors.astype(np.float64)) @ self._projection()
        return (start + self._positive_level(users, known)[:, None] * shift).astype(np.float32)

    def _positive_level(self, users: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Per row, the mean score the learned vector gives the user's trained positives
        (at least 1; 1 for unknown users).

        BPR scores have no fixed scale: a known user's positives often score 3 or more, so
        a change projected onto targets of 1 would barely move the ranking. Scaling the
        change to the user's own level makes a new like count like the old ones.
        """
        level = np.ones(len(users))
        rows = np.flatnonzero(known)
        if len(rows):
            trained = self.trained_history[users[rows]]
            counts = np.maximum(np.diff(trained.indptr), 1)
            scores = np.asarray(trained @ self.item_factors.astype(np.float64))
            mean = np.einsum("ij,ij->i", scores, self.user_factors[users[rows]]) / counts
            level[rows] = np.maximum(mean, 1.0)
        return level

    def _state(self) -> dict[str, np.ndarray]:
        return super()._state() | csr_state("history", self.trained_history)

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        super()._restore(arrays)
        self.trained_history = csr_restore("history", arrays)


def _pattern(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """1 where the row has the item."""
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.data[:] = 1.0
    return out
