"""Diversity re-ranking: maximal marginal relevance over a similarity between items."""

from __future__ import annotations

import numpy as np


def mmr(scores: np.ndarray, similarity: np.ndarray, k: int, diversity: float) -> np.ndarray:
    """Positions of ``k`` candidates picked greedily by MMR, best first.

    Each step takes the candidate maximising ``(1 - diversity) * relevance -
    diversity * (its highest similarity to an item already picked)``, relevance being the
    score rescaled to 0..1 within the candidates. ``diversity=0`` keeps the score order.
    Greedy, so a shorter list is a prefix of a longer one on the same candidates.
    """
    count = len(scores)
    k = min(k, count)
    if count == 0 or k == 0:
        return np.empty(0, dtype=np.int64)
    finite = np.where(np.isfinite(scores), scores, np.nan)
    low, high = np.nanmin(finite), np.nanmax(finite)
    spread = high - low if high > low else 1.0
    relevance = np.nan_to_num((finite - low) / spread, nan=0.0)
    closest = np.zeros(count)
    taken = np.zeros(count, dtype=bool)
    order = np.empty(k, dtype=np.int64)
    for step in range(k):
        gain = (1.0 - diversity) * relevance - diversity * closest
        gain[taken] = -np.inf
        best = int(np.argmax(gain))
        order[step] = best
        taken[best] = True
        closest = np.maximum(closest, similarity[best])
    return order
