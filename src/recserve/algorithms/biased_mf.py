"""Biased matrix factorisation of explicit ratings: ``mu + b_u + b_i + p_u . q_i``.

The model of Funk's and scikit-surprise's "SVD", fitted on ``data.ratings()`` (the latest
rating per user and item) by one of two vectorised solvers:

* ``gibbs`` (default): Bayesian biased MF (BPMF, Salakhutdinov & Mnih 2008, with biases
  as one more coordinate of each vector and a per-dimension Normal-Gamma hyperprior, the
  noise precision sampled too). Each sweep draws every user's ``[p_u, b_u]`` from its
  Gaussian conditional given the items (one batched Cholesky solve for all users), then
  every item's, then the hyperparameters. The model served is the posterior mean of the
  ``samples`` draws after ``burn_in``: no learning rate and no regularisation to tune,
  and the averaging is what beats point estimates. MovieLens 100K, 5 seeded folds: RMSE
  0.896 (about 15 s a fold on 2 cores) against 0.937 for scikit-surprise's SVD and 0.919
  for its SVD++ on the same folds. Biases are averaged exactly; the factors are averaged
  per coordinate, which on rating data matches averaging the predictions (the chain stays
  in one rotation: the averaged prediction matrix has rank ``factors``; on one MovieLens
  fold 0.8906 against 0.8916), at the memory of one model.
* ``als``: the maximum a-posteriori point estimate by alternating ridge solves, with
  "weighted-lambda" regularisation (``lambda n^count_exponent`` for a user or item with
  ``n`` ratings); deterministic and some 30 times cheaper, RMSE 0.911 on the same folds.

Scores for top-N lists are predicted ratings. Request-time history is folded in: each new
positive event counts as a pseudo-rating and moves the user's vector by recursive least
squares (see :class:`~recserve.algorithms.factor_base.RatingFactorModel`), so a like
posted now changes the next list, and an unknown user's first likes personalise it. Lists
ranked by predicted rating are weak, as is known for rating models (they favour items with
a few high ratings): on a MovieLens 100K 80/20 holdout NDCG@10 is 0.12, against 0.18 for
popularity and 0.38 for EASE. These models are for rating prediction.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import ModelConfig
from recserve.algorithms.factor_base import (
    RatingFactorModel,
    check_finite,
    row_grams,
    training_ratings,
)
from recserve.data import Dataset

log = logging.getLogger(__name__)

# Gibbs hyperprior: precision ~ Gamma(shape, rate), mean ~ N(0, 1 / (MEAN_WEIGHT precision))
PRIOR_SHAPE, PRIOR_RATE, MEAN_WEIGHT = 1.0, 1.0, 1.0
# Gram entries per batched solve (rows x d x d), bounds memory on large data
SOLVE_ENTRIES = 1 << 22


class BiasedMFConfig(ModelConfig):
    factors: int = Field(default=10, ge=1, le=512)
    solver: Literal["gibbs", "als"] = "gibbs"
    samples: int = Field(default=300, ge=1, le=100_000, description="gibbs: draws averaged.")
    burn_in: int = Field(default=30, ge=0, le=100_000, description="gibbs: draws discarded.")
    iterations: int = Field(default=15, ge=1, le=1000, description="als: sweeps.")
    regularization: float = Field(default=1.5, ge=0, le=10_000, description="als: factors.")
    bias_regularization: float = Field(default=1.5, ge=0, le=10_000, description="als: biases.")
    count_exponent: float = Field(
        default=0.5, ge=0, le=1, description="als: lambda x (ratings of the row)^exponent."
    )
    fold_in_regularization: float = Field(
        default=10.0, gt=0, le=10_000, description="Ridge of the history fold-in."
    )

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "factors": trial.suggest_int("factors", 4, 32, log=True),
            "samples": trial.suggest_int("samples", 50, 300, log=True),
        }


def _solve_rows(
    pattern: sp.csr_matrix,
    targets: sp.csr_matrix,
    features: np.ndarray,
    diagonal: np.ndarray,
    prior: np.ndarray,
    precision: float,
    rng: np.random.Generator | None,
) -> np.ndarray:
    """For every row r (a user, or an item) the Gaussian conditional of ``x_r`` given
    ratings ``t_rj ~ N(x_r . z_j, 1 / precision)`` and the prior ``N(prior / diagonal,
    diag(1 / diagonal))``: its mean, or with ``rng`` a draw. ``diagonal`` is (d,) or (rows, d).
    """
    n, d = pattern.shape[0], features.shape[1]
    diagonal = np.broadcast_to(diagonal, (n, d))
    prior = np.broadcast_to(prior, (n, d))
    out = np.empty((n, d), dtype=np.float64)
    step = max(1, SOLVE_ENTRIES // (d * d))
    eye = np.arange(d)
    for start in range(0, n, step):
        end = min(n, start + step)
        a = precision * row_grams(pattern[start:end], features)
        a[:, eye, eye] += diagonal[start:end]
        b = precision * np.asarray(targets[start:end] @ features) + prior[start:end]
        if rng is None:
            out[start:end] = np.linalg.solve(a, b[..., None])[..., 0]
            continue
        lower = np.linalg.cholesky(a)
        mean = np.linalg.solve(a, b[..., None])[..., 0]
        noise = rng.standard_normal((end - start, d))
        # x = mean + L^-T eps has covariance (L L^T)^-1 = A^-1
        out[start:end] = mean + np.linalg.solve(np.swapaxes(lower, 1, 2), noise[..., None])[..., 0]
    return out


def _hyper_draw(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and precision of the vectors ``x`` from their Normal-Gamma
    conditional."""
    n = len(x)
    mean = x.mean(axis=0)
    shape = PRIOR_SHAPE + (n + 1) / 2
    spread = ((x - mean) ** 2).sum(axis=0) + MEAN_WEIGHT * n / (MEAN_WEIGHT + n) * mean**2
    precision = rng.gamma(shape, 1.0 / (PRIOR_RATE + spread / 2))
    centre = rng.normal(n * mean / (MEAN_WEIGHT + n), 1.0 / np.sqrt((MEAN_WEIGHT + n) * precision))
    return centre, precision


class BiasedMF(RatingFactorModel[BiasedMFConfig]):
    family = "biased_mf"
    config_class = BiasedMFConfig

    def _fit(self, data: Dataset) -> None:
        rated = training_ratings(data)
        users, items, ratings = rated
        if not len(ratings):
            raise ValueError(f"{self.family} learns from explicit ratings; the data has none")
        n_users, n_items = data.n_users, data.n_items
        mean = float(ratings.mean())
        user_counts = np.bincount(users, minlength=n_users)
        item_counts = np.bincount(items, minlength=n_items)
        fit = self._gibbs if self.config.solver == "gibbs" else self._als
        p, bu, q, bi = fit(users, items, ratings - mean, user_counts, item_counts)
        check_finite("biased_mf", p, q, bu, bi)
        self._set_factors(p, q, user_support=user_counts > 0, servable_items=item_counts > 0)
        self._set_ratings(data, rated, mean, bu, bi)

    @staticmethod
    def _side(
        rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]
    ) -> sp.csr_matrix:
        return sp.csr_matrix((values, (rows, cols)), shape=shape, dtype=np.float64)

    def _als(
        self,
        users: np.ndarray,
        items: np.ndarray,
        residual: np.ndarray,
        user_counts: np.ndarray,
        item_counts: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cfg = self.config
        k, n_users, n_items = cfg.factors, len(user_counts), len(item_counts)
        rng = np.random.default_rng(cfg.seed)
        ones = np.ones(len(users))
        user_pattern = self._side(users, items, ones, (n_users, n_items))
        item_pattern = self._side(items, users, ones, (n_items, n_users))

        def diagonal(counts: np.ndarray) -> np.ndarray:
            weight = np.maximum(counts, 1) ** cfg.count_exponent
            lam = np.r_[np.full(k, cfg.regularization), cfg.bias_regularization]
            return weight[:, None] * lam[None, :]

        user_diag, item_diag = diagonal(user_counts), diagonal(item_counts)
        x = np.c_[rng.normal(0, 0.1, (n_users, k)), np.zeros(n_users)]  # [p_u, b_u]
        y = np.c_[rng.normal(0, 0.1, (n_items, k)), np.zeros(n_items)]  # [q_i, b_i]
        zero = np.zeros(k + 1)
        for _ in range(cfg.iterations):
            targets = self._side(users, items, residual - y[items, k], (n_users, n_items))
            x = _solve_rows(user_pattern, targets, _with_one(y[:, :k]), user_diag, zero, 1.0, None)
            targets = self._side(items, users, residual - x[users, k], (n_items, n_users))
            y = _solve_rows(item_pattern, targets, _with_one(x[:, :k]), item_diag, zero, 1.0, None)
        return x[:, :k], x[:, k], y[:, :k], y[:, k]

    def _gibbs(
        self,
        users: np.ndarray,
        items: np.ndarray,
        residual: np.ndarray,
        user_counts: np.ndarray,
        item_counts: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cfg = self.config
        k, n_users, n_items = cfg.factors, len(user_counts), len(item_counts)
        rng = np.random.default_rng(cfg.seed)
        ones = np.ones(len(users))
        user_pattern = self._side(users, items, ones, (n_users, n_items))
        item_pattern = self._side(items, users, ones, (n_items, n_users))
        x = np.c_[rng.normal(0, 0.1, (n_users, k)), np.zeros(n_users)]  # [p_u, b_u]
        y = np.c_[rng.normal(0, 0.1, (n_items, k)), np.zeros(n_items)]  # [q_i, b_i]
        # only rows with ratings inform the hyperparameters (the others are prior draws)
        rated_users, rated_items = user_counts > 0, item_counts > 0
        noise = 1.0  # precision of a rating around its prediction
        x_sum, y_sum = np.zeros_like(x), np.zeros_like(y)
        for sweep in range(cfg.burn_in + cfg.samples):
            centre, precision = _hyper_draw(x[rated_users], rng)
            targets = self._side(users, items, residual - y[items, k], (n_users, n_items))
            x = _solve_rows(
                user_pattern,
                targets,
                _with_one(y[:, :k]),
                precision,
                precision * centre,
                noise,
                rng,
            )
            centre, precision = _hyper_draw(y[rated_items], rng)
            targets = self._side(items, users, residual - x[users, k], (n_items, n_users))
            y = _solve_rows(
                item_pattern,
                targets,
                _with_one(x[:, :k]),
                precision,
                precision * centre,
                noise,
                rng,
            )
            error = (
                residual
                - x[users, k]
                - y[items, k]
                - np.einsum("nk,nk->n", x[users, :k], y[items, :k])
            )
            noise = rng.gamma(PRIOR_SHAPE + len(error) / 2, 1.0 / (PRIOR_RATE + error @ error / 2))
            if sweep >= cfg.burn_in:
                x_sum += x
                y_sum += y
            log.debug(
                "biased_mf gibbs sweep %d: train rmse %.4f", sweep, np.sqrt(np.mean(error**2))
            )
        x, y = x_sum / cfg.samples, y_sum / cfg.samples
        return x[:, :k], x[:, k], y[:, :k], y[:, k]


def _with_one(factors: np.ndarray) -> np.ndarray:
    """The other side's design ``[factors, 1]``: the trailing 1 multiplies the own bias."""
    return np.c_[factors, np.ones(len(factors))]
