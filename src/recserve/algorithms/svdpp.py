"""SVD++ (Koren 2008): biased MF plus what the user's events say about them.

    r_ui = mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)

``N(u)`` is every item the user had an event with in training (rated or not: that someone
chose to rate or view an item says something even before the stars). At serving time the
request-time history joins ``N(u)`` (for an unknown user it *is* ``N(u)``), and its new
positive events also move ``p_u`` and ``b_u`` as pseudo-ratings (the fold-in shared with
biased MF, see :class:`~recserve.algorithms.factor_base.RatingFactorModel`): the implicit
term alone is a weak signal, since the RMSE-best penalty keeps the ``y_j`` small.

Training: the regularised squared error (the MAP estimate) over all ratings, minimised
full-batch by Adam with a cosine-decayed learning rate, gradients written out by hand and
computed with sparse products (vectorised, deterministic on CPU for a seed). Penalties are
"weighted-lambda": ``lambda n^count_exponent`` for a row seen ``n`` times, so frequent
users and items are held as firmly as rare ones; the implicit vectors ``y_j`` need a much
stronger penalty than the others (default 6 vs 1.5 on MovieLens). MovieLens 100K, 5 seeded
folds: RMSE 0.898 (about 8 s a fold on 2 cores) against 0.919 for scikit-surprise's SVD++
and 0.937 for its SVD on the same folds.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import ModelConfig, csr_restore, csr_state
from recserve.algorithms.factor_base import (
    RatingFactorModel,
    binary_pattern,
    check_finite,
    training_ratings,
)
from recserve.data import Dataset

log = logging.getLogger(__name__)

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


class SVDppConfig(ModelConfig):
    factors: int = Field(default=50, ge=1, le=1024)
    iterations: int = Field(default=300, ge=1, le=100_000, description="Full-batch Adam steps.")
    learning_rate: float = Field(default=0.02, gt=0, le=1, description="Adam; cosine decay.")
    regularization: float = Field(default=1.5, ge=0, le=10_000, description="p_u and q_i.")
    bias_regularization: float = Field(default=1.5, ge=0, le=10_000)
    implicit_regularization: float = Field(default=6.0, ge=0, le=10_000, description="y_j.")
    count_exponent: float = Field(
        default=0.5, ge=0, le=1, description="Penalty x (times the row is seen)^exponent."
    )
    init_std: float = Field(default=0.1, gt=0, le=10)
    fold_in_regularization: float = Field(
        default=10.0, gt=0, le=10_000, description="Ridge of the history fold-in."
    )

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "factors": trial.suggest_categorical("factors", [10, 20, 50, 100]),
            "regularization": trial.suggest_float("regularization", 0.3, 5.0, log=True),
            "implicit_regularization": trial.suggest_float(
                "implicit_regularization", 0.5, 30.0, log=True
            ),
            "iterations": trial.suggest_int("iterations", 100, 500, log=True),
        }


def _normalised_rows(pattern: sp.csr_matrix) -> sp.csr_matrix:
    """Each non-empty row scaled to ``|N(u)|^-1/2``."""
    counts = np.diff(pattern.indptr).astype(np.float32)
    scale = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ pattern)


class _Adam:
    """Adam over a dict of float32 arrays (in place)."""

    def __init__(self, params: dict[str, np.ndarray]):
        self.first = {k: np.zeros_like(v) for k, v in params.items()}
        self.second = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
        b1, b2 = ADAM_BETAS
        self.t += 1
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for key, g in grads.items():
            m, v = self.first[key], self.second[key]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            params[key] -= (lr / c1) * m / (np.sqrt(v / c2) + ADAM_EPS)


class SVDpp(RatingFactorModel[SVDppConfig]):
    family = "svdpp"
    config_class = SVDppConfig
    uses_history = True

    own_factors: np.ndarray  # float32 (n_users, k): p_u
    implicit_factors: np.ndarray  # float32 (n_items, k): y_j
    trained_events: sp.csr_matrix  # users x items, 1 where the user had an event: N(u)

    def _fit(self, data: Dataset) -> None:
        cfg = self.config
        rated = training_ratings(data)
        users, items, ratings = rated
        if not len(ratings):
            raise ValueError(f"{self.family} learns from explicit ratings; the data has none")
        n_users, n_items, n = data.n_users, data.n_items, len(ratings)
        ok = (data.user >= 0) & (data.item >= 0)
        events = binary_pattern(
            sp.csr_matrix(
                (np.ones(int(ok.sum()), np.float32), (data.user[ok], data.item[ok])),
                shape=(n_users, n_items),
            )
        )
        implicit = _normalised_rows(events)  # N(u) with the |N(u)|^-1/2 weights
        implicit_t = sp.csr_matrix(implicit.T)

        mean = float(ratings.mean())
        target = (ratings - mean).astype(np.float32)
        by_user = sp.csr_matrix((np.ones(n, np.float32), (users, np.arange(n))), shape=(n_users, n))
        by_item = sp.csr_matrix((np.ones(n, np.float32), (items, np.arange(n))), shape=(n_items, n))
        user_counts = np.bincount(users, minlength=n_users)
        item_counts = np.bincount(items, minlength=n_items)
        event_counts = np.bincount(events.indices, minlength=n_items)
        exponent = cfg.count_exponent
        w_user = (np.maximum(user_counts, 1) ** exponent).astype(np.float32)[:, None]
        w_item = (np.maximum(item_counts, 1) ** exponent).astype(np.float32)[:, None]
        w_event = (np.maximum(event_counts, 1) ** exponent).astype(np.float32)[:, None]

        rng = np.random.default_rng(cfg.seed)
        k = cfg.factors
        params = {
            "p": (rng.standard_normal((n_users, k)) * cfg.init_std).astype(np.float32),
            "q": (rng.standard_normal((n_items, k)) * cfg.init_std).astype(np.float32),
            "y": np.zeros((n_items, k), np.float32),
            "bu": np.zeros((n_users, 1), np.float32),
            "bi": np.zeros((n_items, 1), np.float32),
        }
        adam = _Adam(params)
        reg, reg_b, reg_y = cfg.regularization, cfg.bias_regularization, cfg.implicit_regularization
        for step in range(cfg.iterations):
            p, q, y, bu, bi = (params[key] for key in ("p", "q", "y", "bu", "bi"))
            query = p + implicit @ y
            q_rated, query_rated = q[items], query[users]
            error = (
                bu[users, 0] + bi[items, 0] + np.einsum("nk,nk->n", query_rated, q_rated) - target
            )
            grad_query = by_user @ (error[:, None] * q_rated)
            grads = {
                "p": grad_query + reg * w_user * p,
                "q": by_item @ (error[:, None] * query_rated) + reg * w_item * q,
                "y": implicit_t @ grad_query + reg_y * w_event * y,
                "bu": (by_user @ error)[:, None] + reg_b * w_user * bu,
                "bi": (by_item @ error)[:, None] + reg_b * w_item * bi,
            }
            lr = cfg.learning_rate * 0.5 * (1.0 + np.cos(np.pi * step / cfg.iterations))
            adam.step(params, grads, lr)
            if log.isEnabledFor(logging.DEBUG) and step % 50 == 0:
                log.debug("svdpp step %d: train rmse %.4f", step, np.sqrt(np.mean(error**2)))
        check_finite("svdpp", *params.values())
        # rows without ratings only ever saw the penalty: no learned p_u, b_u, q_i, b_i
        for key, counts in (("p", user_counts), ("bu", user_counts), ("q", item_counts)):
            params[key][counts == 0] = 0.0
        params["bi"][item_counts == 0] = 0.0

        self.own_factors = params["p"]
        self.implicit_factors = params["y"]
        self.trained_events = events
        self._set_factors(
            params["p"] + implicit @ params["y"],
            params["q"],
            user_support=(user_counts > 0) | (np.diff(events.indptr) > 0),
            servable_items=item_counts > 0,
        )
        self._set_ratings(data, rated, mean, params["bu"][:, 0], params["bi"][:, 0])

    def _own_factors(self) -> np.ndarray:
        return self.own_factors

    def _implicit_term(
        self, users: np.ndarray, known: np.ndarray, history: sp.csr_matrix
    ) -> np.ndarray:
        """``|N|^-1/2 sum_{j in N} y_j`` with ``N`` the user's trained events plus the
        request's history (the history alone for an unknown user)."""
        safe = np.where(known, users, 0)
        trained = sp.diags(known.astype(np.float32)) @ self.trained_events[safe]
        events = binary_pattern(sp.csr_matrix(trained + binary_pattern(history)))
        return np.asarray(_normalised_rows(events) @ self.implicit_factors, dtype=np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        return (
            super()._state()
            | {"own_factors": self.own_factors, "implicit_factors": self.implicit_factors}
            | csr_state("events", self.trained_events)
        )

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        super()._restore(arrays)
        self.own_factors = arrays["own_factors"]
        self.implicit_factors = arrays["implicit_factors"]
        self.trained_events = csr_restore("events", arrays)
