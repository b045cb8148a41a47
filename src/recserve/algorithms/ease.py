"""EASE^R (Steck 2019): a closed-form linear item-item model, "embarrassingly shallow".

With ``X`` the users x items training matrix (0/1 by default, or confidences):

    P = (X^T X + lambda I)^-1,    B = I - P / diag(P)   (so diag(B) = 0)

and a user's scores are ``history @ B``, over the request-time history (or, without one,
the user's training positives), so a new event counts at once. ``B[i, j]`` is how much
having ``i`` says about ``j``; its positive entries give similar items.

The inverse is of a dense items x items matrix: O(items^2) memory and O(items^3) time. Fits
on catalogues above ``max_items`` are refused with a clear error instead of running the
machine out of memory (20,000 items already take 1.6 GB for ``B`` alone, plus the inverse).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import ModelConfig, Recommender, csr_restore, csr_state, top_n
from recserve.algorithms.memo import MemoisedTopN
from recserve.algorithms.similarity import effective_history, live_rows_everywhere
from recserve.data import Dataset


class CatalogueTooLarge(ValueError):
    """The model's memory grows with the square of the catalogue, and this one is too big."""


class EASEConfig(ModelConfig):
    regularization: float = Field(default=500.0, gt=0, le=1e7, description="lambda")
    binary: bool = Field(default=True, description="Fit on 0/1 interactions, not confidences.")
    max_items: int = Field(
        default=20_000, ge=1, le=200_000, description="Refuse larger catalogues (O(n^2) memory)."
    )

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "regularization": trial.suggest_float("regularization", 1.0, 5_000.0, log=True),
            "binary": trial.suggest_categorical("binary", [True, False]),
        }


@functools.cache
def _seconds_per_cubed_item() -> float:
    """This machine's dense inverse, timed once on a 2,000 x 2,000 matrix (under a second;
    smaller ones run far below the pace of large ones): seconds per n^3."""
    n = 2_000
    a = np.random.default_rng(0).standard_normal((n, n))
    gram = a @ a.T + n * np.eye(n)
    start = time.perf_counter()
    scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    return (time.perf_counter() - start) / n**3


class EASE(MemoisedTopN, Recommender[EASEConfig]):
    family = "ease"
    config_class = EASEConfig
    uses_history = True
    supports_similar_items = True

    @classmethod
    def expected_fit_seconds(cls, data: Dataset) -> float:
        """The inverse's O(n^3) at this machine's measured pace, and half as much again for
        the Gram matrix and B (17,632 items: minutes on two cores, where 1,682 take a
        second)."""
        if data.n_items <= 3_000:
            return 0.0  # seconds at most: not worth the calibration
        return 1.5 * _seconds_per_cubed_item() * data.n_items**3

    weights: np.ndarray  # float32 (n_items, n_items): B
    trained_history: sp.csr_matrix
    servable_items: np.ndarray  # bool: the item had training positives
    _unservable: np.ndarray  # indices of the others

    def _input(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
        if self.config.binary:
            out.eliminate_zeros()
            out.data[:] = 1.0
        return out

    def _fit(self, data: Dataset) -> None:
        n_items = data.n_items
        if n_items > self.config.max_items:
            gigabytes = 3 * 8 * n_items**2 / 1e9
            raise CatalogueTooLarge(
                f"ease inverts a dense items x items matrix: {n_items:,} items would take about "
                f"{gigabytes:.1f} GB and O(n^3) time; the cap is max_items="
                f"{self.config.max_items:,}. Use als or item_knn for this catalogue, or raise "
                "max_items if the machine has the memory."
            )
        matrix = self._input(data.positive_matrix())
        gram = np.asarray((matrix.T @ matrix).toarray(), dtype=np.float64)
        gram[np.diag_indices(n_items)] += self.config.regularization
        inverse = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        del gram
        inverse /= -np.diag(inverse)[None, :]  # B = I - P / diag(P), in place
        inverse[np.diag_indices(n_items)] = 0.0
        self.weights = np.ascontiguousarray(inverse, dtype=np.float32)  # see _restore
        self.trained_history = matrix
        self.servable_items = np.bincount(matrix.indices, minlength=n_items) > 0
        self._unservable = np.flatnonzero(~self.servable_items)  # not rebuilt per request

    def _effective(self, users: np.ndarray, history: sp.csr_matrix | None) -> sp.csr_matrix:
        return self._input(effective_history(users, history, self.trained_history))

    def has_signal(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        if live_rows_everywhere(users, history):  # no copy of the history needed to tell
            return np.ones(len(users), dtype=bool)
        return np.diff(self._effective(users, history).indptr) > 0

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        scores = np.asarray(self._effective(users, history) @ self.weights, dtype=np.float32)
        scores[:, self._unservable] = -np.inf
        return scores

    def similar_items(self, items: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The items that having ``i`` raises most (positive weights of row ``i`` of B)."""
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        rows = self.weights[np.clip(items, 0, None)].copy()
        rows[items < 0] = 0.0
        rows[:, ~self.servable_items] = 0.0
        rows[rows <= 0] = -np.inf
        return top_n(rows, n)

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "weights": self.weights,
            "servable_items": self.servable_items,
            **csr_state("history", self.trained_history),
        }

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        # row-major, always: ``history @ B`` reads B's rows. scipy's sparse-dense product
        # flattens its dense operand, which copies all of a column-major B (LAPACK's inverse
        # is one, and the artifact keeps its order) on every request: 0.75 ms at 1,000 items,
        # O(items^2) per request at the cap
        self.weights = np.ascontiguousarray(arrays["weights"])
        self.servable_items = arrays["servable_items"].astype(bool)
        self._unservable = np.flatnonzero(~self.servable_items)
        self.trained_history = csr_restore("history", arrays)
