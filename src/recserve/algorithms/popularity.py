"""Most popular items, optionally with exponential time decay ("best sellers" now, not ever)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import ModelConfig
from recserve.algorithms.global_ranking import GlobalRanking
from recserve.data import Dataset
from recserve.data.dataset import POSITIVE


class PopularConfig(ModelConfig):
    half_life_days: float | None = Field(
        default=None,
        gt=0,
        description="Weight of an event halves every this many days; None: no decay.",
    )
    count_users: bool = Field(
        default=True, description="Count distinct users (True) or summed event confidence (False)."
    )

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "half_life_days": trial.suggest_categorical("half_life_days", [None, 7.0, 30.0, 180.0]),
            "count_users": trial.suggest_categorical("count_users", [True, False]),
        }


class Popular(GlobalRanking[PopularConfig]):
    """The same ranking for everyone: positive feedback per item, decayed by age."""

    family = "popular"
    config_class = PopularConfig

    def _fit(self, data: Dataset) -> None:
        mask = data.kind == POSITIVE
        weights = np.ones(int(mask.sum())) if self.config.count_users else data.weight[mask]
        if self.config.half_life_days is not None and mask.any():
            age_days = (data.timestamp[mask].max() - data.timestamp[mask]) / 86_400.0
            weights = weights * np.power(0.5, age_days / self.config.half_life_days)
        if self.config.count_users:
            # one vote per (user, item): their decayed event weights summed, capped at 1
            pairs = sp.csr_matrix(
                (weights, (data.user[mask], data.item[mask])), shape=(data.n_users, data.n_items)
            )
            pairs.data = np.minimum(pairs.data, 1.0)
            self.scores = np.asarray(pairs.sum(axis=0)).ravel().astype(np.float32)
        else:
            self.scores = np.bincount(data.item[mask], weights, minlength=data.n_items).astype(
                np.float32
            )
