"""Which families a training job's model search tries on this data, cheapest strong first.

The order is the search's first round: every family is fitted once (at the champion's
configuration when it is the champion's family, else at its defaults) before any is tuned,
so a short budget still ends with the best cheap model. The rules for leaving a family out
are the leaderboard's (``evaluation.leaderboard.skip_reason``: ratings, item text,
relations, size caps such as EASE's ``max_items``, optional modules such as torch) plus
one of the search's own: sequential families need events in a meaningful time order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recserve.algorithms import FAMILIES
from recserve.data import Dataset
from recserve.evaluation.leaderboard import DataProfile, skip_reason

# Cheap and strong first. SASRec right after them: where events are ordered it is the
# strongest family measured (docs/benchmarks.md), so it trains before the weaker classic
# ones take the budget; the other torch families last (minutes where the others take seconds).
SEARCH_ORDER: tuple[str, ...] = (
    "popular",
    "item_knn",
    "ease",
    "als",
    "sasrec",
    "user_knn",
    "bpr",
    "tfidf",
    "social",
    "hstu",
    "gru4rec",
    "two_tower",
)
SEQUENTIAL = frozenset({"sasrec", "gru4rec", "hstu"})
NEURAL = frozenset({"sasrec", "gru4rec", "hstu", "two_tower"})
# Families only for data with item text or features (content or feature towers).
NEEDS_FEATURES = frozenset({"tfidf", "two_tower"})
# Torch families score every item per position in training (full softmax): left out of
# larger catalogues rather than risk the worker's memory.
NEURAL_MAX_ITEMS = 100_000
# Below this many events a torch family's validation score is noise (a few dozen users)
# and its fit costs more than the whole classic search: it is left out.
NEURAL_MIN_EVENTS = 1_000
# Timestamps must order at least this share of each user's events (ties do not).
MIN_ORDERED_SHARE = 0.5


def ordered_share(data: Dataset) -> float:
    """The share of consecutive same-user events on different items (in time order) with
    distinct timestamps: 0 for a file without timestamps, near 1 for a log of clicks or
    ratings over time. Events on the same item (a like and a purchase sent together) say
    nothing about order and are not counted."""
    known = data.user >= 0
    if known.sum() < 2:
        return 0.0
    user, item, stamp = data.user[known], data.item[known], data.timestamp[known]
    order = np.lexsort((stamp, user))
    user, item, stamp = user[order], item[order], stamp[order]
    counted = (user[1:] == user[:-1]) & (item[1:] != item[:-1])
    if not counted.any():
        return 0.0
    return float((np.diff(stamp)[counted] > 0).mean())


def search_families(
    data: Dataset, wanted: Sequence[str] | None = None, share: float | None = None
) -> tuple[list[str], dict[str, str]]:
    """The families to search on ``data`` in search order, and ``family -> reason`` for
    those left out. ``wanted`` restricts the candidates (in its order); unknown names raise
    ``ValueError``. ``share``: ``ordered_share(data)`` when the caller has it already."""
    if wanted is not None:
        unknown = [w for w in wanted if w not in FAMILIES]
        if unknown:
            raise ValueError(f"unknown families {unknown}; known: {sorted(FAMILIES)}")
        names = list(dict.fromkeys(wanted))
    else:
        names = [f for f in SEARCH_ORDER if f in FAMILIES]
    profile = DataProfile.of(data)
    if share is None:
        share = ordered_share(data) if SEQUENTIAL & set(names) else 1.0
    chosen: list[str] = []
    skipped: dict[str, str] = {}
    for family in names:
        reason = skip_reason(family, profile)
        if reason is None and family in SEQUENTIAL and share < MIN_ORDERED_SHARE:
            reason = f"needs events in time order; {share:.0%} of them are ordered"
        if reason is None and family in NEEDS_FEATURES and profile.items_with_text == 0:
            reason = "needs item text or features; no item has any"
        if reason is None and family in NEURAL:
            reason = _neural_reason(profile)
        if reason is None:
            chosen.append(family)
        else:
            skipped[family] = reason
    return chosen, skipped


def _neural_reason(profile: DataProfile) -> str | None:
    """Why no torch family suits this data (or this install), or None."""
    import importlib.util

    if not importlib.util.find_spec("torch"):
        return "needs torch (not installed)"
    if profile.n_events < NEURAL_MIN_EVENTS:
        return f"too little data: {profile.n_events:,} events (at least {NEURAL_MIN_EVENTS:,})"
    if profile.n_items > NEURAL_MAX_ITEMS:
        return f"too heavy: {profile.n_items:,} items (limit {NEURAL_MAX_ITEMS:,})"
    return None
