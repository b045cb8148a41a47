"""Latest: the newest items first, by ``published_at``, else by the item's first event.

Scores are the item's age in days relative to the newest item (0 for the newest, negative
for older ones): float32 keeps second-level precision near zero, where raw Unix times would
round to minutes. Items with no date at all come last.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from recserve.algorithms.base import ModelConfig
from recserve.algorithms.trending import DAY, GlobalRanking
from recserve.data import Dataset


class LatestConfig(ModelConfig):
    first_event_fallback: bool = Field(
        default=True, description="Date items without published_at by their first event."
    )


class Latest(GlobalRanking[LatestConfig]):
    family = "latest"
    config_class = LatestConfig

    def _fit(self, data: Dataset) -> None:
        dates = np.full(data.n_items, np.nan)
        if data.item_features is not None:
            dates[:] = data.item_features.published_at
        if self.config.first_event_fallback and len(data):
            ok = data.item >= 0
            first = np.full(data.n_items, np.inf)
            np.minimum.at(first, data.item[ok], data.timestamp[ok])
            missing = np.isnan(dates) & np.isfinite(first)
            dates[missing] = first[missing]
        dated = ~np.isnan(dates)
        scores = np.full(data.n_items, -1.0)
        if dated.any():
            scores[dated] = (dates[dated] - dates[dated].max()) / DAY
            scores[~dated] = scores[dated].min() - 1.0
        self.scores = scores.astype(np.float32)
