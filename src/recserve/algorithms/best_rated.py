"""Best rated: explicit ratings shrunk toward the global mean (a Bayesian average).

For item i with ratings r_1..r_n (each user's latest rating of it), the global mean rating m
over all items, and a prior count C::

    score_i = (C * m + sum r) / (C + n)

An item with a few perfect ratings does not beat one with hundreds of very good ones: it
starts from C imaginary ratings of m. Items nobody has rated come last.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from recserve.algorithms.base import ModelConfig
from recserve.algorithms.global_ranking import GlobalRanking
from recserve.algorithms.similarity import rating_matrix
from recserve.data import Dataset


class BestRatedConfig(ModelConfig):
    prior_count: float = Field(
        default=10.0, ge=0, le=1e6, description="C: imaginary ratings of the global mean per item."
    )

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"prior_count": trial.suggest_float("prior_count", 0.5, 200.0, log=True)}


class BestRated(GlobalRanking[BestRatedConfig]):
    family = "best_rated"
    config_class = BestRatedConfig

    def _fit(self, data: Dataset) -> None:
        ratings = rating_matrix(data).tocsc()
        counts = np.diff(ratings.indptr).astype(np.float64)
        sums = np.asarray(ratings.sum(axis=0), dtype=np.float64).ravel()
        rated = counts > 0
        scores = np.zeros(data.n_items)
        if rated.any():
            mean = sums.sum() / counts.sum()
            c = self.config.prior_count
            scores[rated] = (c * mean + sums[rated]) / (c + counts[rated])
            scores[~rated] = scores[rated].min() - 1.0
        self.scores = scores.astype(np.float32)
