"""Trending now: items whose positive feedback grows, recent window against the one before.

Both windows end relative to the snapshot's latest event, not the wall clock, so a model
trained on old data still says what was trending then. For item i with ``recent`` and
``previous`` positive feedback (distinct users, or summed confidence)::

    trend_i = (recent + prior) / (previous * window / baseline + prior)

The previous count is rescaled to the recent window's length, and ``prior`` pseudo-counts on
both sides keep tiny counts from dominating: 3 events after 0 is a growth of 3/0 unsmoothed,
but (3 + 5) / (0 + 5) = 1.6 with the default prior, below 100 after 40 at 105 / 45 = 2.3.
Items with no recent positive feedback are not trending: they score 0 and come last.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import ModelConfig
from recserve.algorithms.global_ranking import GlobalRanking
from recserve.data import Dataset
from recserve.data.dataset import POSITIVE

DAY = 86_400.0


class TrendingConfig(ModelConfig):
    window_days: float = Field(default=7.0, gt=0, le=3650, description="The recent window.")
    baseline_days: float | None = Field(
        default=None, gt=0, le=3650, description="The window before it; None: window_days."
    )
    prior: float = Field(default=5.0, gt=0, le=1e6, description="Pseudo-count on both sides.")
    count_users: bool = Field(
        default=True, description="Count distinct users (True) or summed event confidence (False)."
    )

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "window_days": trial.suggest_float("window_days", 1.0, 90.0, log=True),
            "prior": trial.suggest_float("prior", 0.5, 50.0, log=True),
        }


def window_counts(data: Dataset, start: float, stop: float, count_users: bool) -> np.ndarray:
    """Positive feedback per item with ``start < timestamp <= stop``."""
    mask = (
        (data.kind == POSITIVE)
        & (data.timestamp > start)
        & (data.timestamp <= stop)
        & (data.user >= 0)
        & (data.item >= 0)
    )
    if not count_users:
        return np.bincount(data.item[mask], data.weight[mask], minlength=data.n_items)
    pairs = sp.csr_matrix(
        (np.ones(int(mask.sum())), (data.user[mask], data.item[mask])),
        shape=(data.n_users, data.n_items),
    )
    pairs.sum_duplicates()
    return np.diff(pairs.tocsc().indptr).astype(np.float64)


class Trending(GlobalRanking[TrendingConfig]):
    family = "trending"
    config_class = TrendingConfig

    def _fit(self, data: Dataset) -> None:
        c = self.config
        baseline = c.baseline_days if c.baseline_days is not None else c.window_days
        now = float(data.timestamp.max()) if len(data) else 0.0
        split = now - c.window_days * DAY
        recent = window_counts(data, split, now, c.count_users)
        previous = window_counts(data, split - baseline * DAY, split, c.count_users)
        trend = (recent + c.prior) / (previous * (c.window_days / baseline) + c.prior)
        self.scores = np.where(recent > 0, trend, 0.0).astype(np.float32)
