"""Non-negative matrix factorisation of the positive-feedback matrix (scikit-learn).

``X ~ W H`` with ``W`` (users x k) and ``H`` (k x items) non-negative, fitted by
coordinate descent; a user's scores are ``w_u H``. Parts-based factors are easy to read
(each factor is a weighted set of items). A request-time history is folded in by
scikit-learn's own solve for ``W`` with ``H`` fixed (``non_negative_factorization`` with
``update_H=False``, what ``NMF.transform`` does), so a new event counts at once.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import ModelConfig
from recserve.algorithms.factor_base import FactorModel, check_finite
from recserve.data import Dataset

log = logging.getLogger(__name__)


class NMFConfig(ModelConfig):
    factors: int = Field(
        default=32, ge=1, le=1024, description="At most min(users, items) are used."
    )
    regularization: float = Field(default=0.0, ge=0, le=10_000, description="alpha_W = alpha_H")
    l1_ratio: float = Field(default=0.0, ge=0, le=1, description="0: L2 penalty, 1: L1.")
    iterations: int = Field(default=200, ge=1, le=10_000)
    tolerance: float = Field(default=1e-4, gt=0, le=1)
    init: Literal["nndsvda", "nndsvd", "nndsvdar", "random"] = "nndsvda"
    binary: bool = Field(default=False, description="Fit on 0/1 interactions, not confidences.")

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "factors": trial.suggest_categorical("factors", [16, 32, 64, 128]),
            "regularization": trial.suggest_float("regularization", 1e-5, 1e-1, log=True),
            "l1_ratio": trial.suggest_float("l1_ratio", 0.0, 1.0),
            "binary": trial.suggest_categorical("binary", [True, False]),
        }


class NMF(FactorModel[NMFConfig]):
    family = "nmf"
    config_class = NMFConfig
    uses_history = True

    def _input(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
        out.eliminate_zeros()
        if self.config.binary:
            out.data[:] = 1.0
        return out

    def _solver_args(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "solver": "cd",
            "beta_loss": "frobenius",
            "tol": cfg.tolerance,
            "max_iter": cfg.iterations,
            "alpha_W": cfg.regularization,
            "alpha_H": "same",
            "l1_ratio": cfg.l1_ratio,
            "random_state": cfg.seed,
        }

    def _fit(self, data: Dataset) -> None:
        from sklearn.decomposition import NMF as SklearnNMF

        matrix = self._input(data.positive_matrix())
        k = max(1, min(self.config.factors, *matrix.shape))
        model = SklearnNMF(n_components=k, init=self.config.init, **self._solver_args())
        with _converged_or_logged():
            user_factors = model.fit_transform(matrix)
        components = model.components_
        check_finite("nmf", user_factors, components)
        self._set_factors(
            user_factors,
            components.T,
            user_support=np.diff(matrix.indptr) > 0,
            servable_items=np.bincount(matrix.indices, minlength=matrix.shape[1]) > 0,
        )

    def _fold_in(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        from sklearn.decomposition import non_negative_factorization

        h = np.ascontiguousarray(self.item_factors.T, dtype=np.float32)
        with _converged_or_logged():
            w, _, _ = non_negative_factorization(
                self._input(history),
                H=h,
                n_components=h.shape[0],
                update_H=False,
                **self._solver_args(),
            )
        return np.asarray(w, dtype=np.float32)


@contextmanager
def _converged_or_logged() -> Iterator[None]:
    """scikit-learn warns when ``max_iter`` is reached first: a tuning fact, not an error,
    so it is logged; any other warning goes on as it came."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            log.info("nmf: %s", warning.message)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
