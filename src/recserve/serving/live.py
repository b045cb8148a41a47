"""Live counters: positive feedback ingested since a champion was trained, per item.

Popular and trending answers add these to the trained scores, so an event counts in the
next answer without retraining. The counters belong to one served model (its item space);
a new champion, trained on the newer events, starts from zero.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np

from recserve.data import Vocabulary

MAX_PAIRS = 1_000_000  # (user, item) pairs remembered for distinct-user counting


class LiveCounter(Protocol):
    """What popular and trending read: ``LiveCounts`` in one process, or a shared
    implementation (``recserve.replication.RedisLiveCounts``) when replicas run side by side."""

    @property
    def items(self) -> Vocabulary: ...

    @property
    def counts(self) -> np.ndarray: ...

    @property
    def changed(self) -> np.ndarray:
        """Sorted indices of the items with a vote: the only ones whose live score differs
        from the trained one (so a request re-scores these, not the whole catalogue)."""
        ...

    @property
    def any(self) -> bool: ...

    def add(self, pairs: Iterable[tuple[str, str]]) -> None: ...

    def regrown(self, items: Vocabulary) -> LiveCounter: ...


LiveCountsFactory = Callable[[str, Vocabulary], LiveCounter]
"""Makes the counter of one served model: (model ref, its item space) -> counter."""


def local_counts(ref: str, items: Vocabulary) -> LiveCounter:
    """The in-process counter (the default: one API process)."""
    return LiveCounts(items)


class LiveCounts:
    """Per item: distinct users with a positive event since training (one vote per pair)."""

    def __init__(self, items: Vocabulary):
        self.items = items
        self.counts = np.zeros(len(items), dtype=np.float32)
        self._pairs: set[tuple[str, str]] = set()
        self._changed = np.empty(0, dtype=np.int64)  # item indices with a vote, sorted
        self._lock = threading.Lock()

    def add(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Count (user_id, item_id) pairs of positive events; a repeated pair counts once."""
        with self._lock:
            voted = []
            for user_id, item_id in pairs:
                index = self.items.get(item_id)
                if index < 0 or (user_id, item_id) in self._pairs:
                    continue
                if len(self._pairs) < MAX_PAIRS:
                    self._pairs.add((user_id, item_id))
                self.counts[index] += 1.0
                voted.append(index)
            if voted:  # a new array: a request holding the old one keeps a consistent view
                self._changed = np.union1d(self._changed, np.array(voted, dtype=np.int64))

    @property
    def changed(self) -> np.ndarray:
        return self._changed

    def regrown(self, items: Vocabulary) -> LiveCounts:
        """The same counts in a grown item space (new items appended, as ``observe_items``
        grows a served model)."""
        grown = LiveCounts(items)
        with self._lock:
            grown.counts[: len(self.counts)] = self.counts
            grown._pairs = set(self._pairs)
            grown._changed = self._changed
        return grown

    @property
    def any(self) -> bool:
        return bool(self._pairs)


def popular_scores(trained: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Popularity counts distinct users: live votes (``counts``, aligned with ``trained``)
    add one each. An item without a vote keeps its trained score."""
    return trained + counts


def trending_scores(trained: np.ndarray, counts: np.ndarray, prior: float) -> np.ndarray:
    """Trending is ``(recent + prior) / (previous + prior)``; live events join ``recent``.

    The model keeps only the ratio, so a live vote adds ``1 / prior`` to it: exact for an
    item with no earlier window, and an item with no recent events starts from growth 1.
    An item without a vote keeps its trained score.
    """
    base = np.where((trained <= 0) & (counts > 0), 1.0, trained)
    return (base + counts / prior).astype(np.float32)
