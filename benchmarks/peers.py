"""Peer libraries behind recserve's protocol, for side-by-side benchmarks on identical splits.

The adapters only wrap the peer's own training; ranking, exclusion of seen items and every
metric come from recserve's evaluation code, so both sides are measured the same way.
They deliberately set no ``family``: they are not registered as recserve models.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from recserve.algorithms.base import ModelConfig, Recommender
from recserve.data import Dataset


class ImplicitConfig(ModelConfig):
    algorithm: str = "als"
    factors: int = 100
    regularization: float = 0.01
    iterations: int = 15
    alpha: float = 1.0  # ALS confidence scaling
    learning_rate: float = 0.01  # BPR

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """The same ranges recserve's own ALS and BPR configs search (als.py, bpr.py)."""
        if cls.model_fields["algorithm"].default == "als":
            return {
                "factors": trial.suggest_categorical("factors", [32, 64, 128, 256]),
                "regularization": trial.suggest_float("regularization", 1e-2, 100.0, log=True),
                "alpha": trial.suggest_float("alpha", 0.3, 30.0, log=True),
                "iterations": trial.suggest_int("iterations", 5, 40),
            }
        return {
            "factors": trial.suggest_categorical("factors", [32, 64, 128, 256]),
            "learning_rate": trial.suggest_float("learning_rate", 1e-3, 0.1, log=True),
            "regularization": trial.suggest_float("regularization", 1e-4, 0.1, log=True),
            "iterations": trial.suggest_int("iterations", 20, 300, log=True),
        }


class ImplicitBPRConfig(ImplicitConfig):
    algorithm: str = "bpr"
    iterations: int = 100  # implicit's BPR default


class ImplicitPeer(Recommender[ImplicitConfig]):
    """implicit's ALS or BPR, trained on the same confidence matrix recserve trains on."""

    config_class = ImplicitConfig

    def _fit(self, data: Dataset) -> None:
        from implicit.bpr import BayesianPersonalizedRanking
        from implicit.cpu.als import AlternatingLeastSquares

        cfg = self.config
        matrix = sp.csr_matrix(data.positive_matrix())
        if cfg.algorithm == "als":
            model = AlternatingLeastSquares(
                factors=cfg.factors,
                regularization=cfg.regularization,
                iterations=cfg.iterations,
                alpha=cfg.alpha,
                random_state=cfg.seed,
            )
        else:
            model = BayesianPersonalizedRanking(
                factors=cfg.factors,
                regularization=cfg.regularization,
                iterations=cfg.iterations,
                learning_rate=cfg.learning_rate,
                random_state=cfg.seed,
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(matrix, show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        rows = self.user_factors[np.clip(users, 0, None)] @ self.item_factors.T
        rows[users < 0] = 0.0
        return rows

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.user_factors, self.item_factors = arrays["user_factors"], arrays["item_factors"]


class ImplicitBPRPeer(ImplicitPeer):
    """implicit's BPR; its own class so tuning searches BPR's ranges."""

    config_class = ImplicitBPRConfig


def surprise_rmse(algorithm: str, train: Dataset, test: Dataset, seed: int = 0) -> float:
    """Fit scikit-surprise's SVD or SVDpp (documented defaults) on ``train``'s ratings and
    return its RMSE on ``test``'s ratings.

    The fold is handed over as files through surprise's own ``PredefinedKFold``, the
    documented way to evaluate on given splits.
    """
    import tempfile
    from pathlib import Path

    from surprise import SVD, Reader, SVDpp, accuracy
    from surprise import Dataset as SurpriseDataset
    from surprise.model_selection import PredefinedKFold

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, part in (("train", train), ("test", test)):
            users, items, ratings = part.ratings()
            path = Path(tmp) / f"{name}.tsv"
            path.write_text(
                "".join(f"{u}\t{i}\t{r}\n" for u, i, r in zip(users, items, ratings, strict=True))
            )
            paths.append(str(path))
        low, high = float(train.ratings()[2].min()), float(train.ratings()[2].max())
        data = SurpriseDataset.load_from_folds(
            [tuple(paths)],
            Reader(line_format="user item rating", sep="\t", rating_scale=(low, high)),
        )
        ((trainset, testset),) = PredefinedKFold().split(data)
        model = (SVD if algorithm == "svd" else SVDpp)(random_state=seed)
        model.fit(trainset)
        return float(accuracy.rmse(model.test(testset), verbose=False))
