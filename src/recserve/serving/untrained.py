"""Popular items before the first training, counted from the events in the store.

Until a popular champion is promoted, ``GET /v1/popular`` (and the popular fallback of
recommendations: every user's, while nothing is trained) ranks items by the number of
distinct users with positive feedback on them, as the trained ``popular`` model would.
The counts are the store's, so they include events imported before the server started and
events posted to other replicas; they are counted again (one read of the events) on the
next request after this process stores an event or hides an item, and at least every
``refresh_seconds`` for writes made elsewhere. Before the first training the event table is
small, and this read stops once a popular champion serves.

Items without a positive vote are left out, so a list can be shorter than asked; with no
positive event at all there is nothing to rank and the scenario stays ``model_not_ready``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from recserve.algorithms.popularity import Popular
from recserve.config import FeedbackType
from recserve.data import Dataset
from recserve.registry import ModelVersion
from recserve.serving.allowed import BlockedItems
from recserve.serving.served import ServedModel
from recserve.store import Store

NAME = "live_counts"  # the answer's ``model`` is ``live_counts/untrained``
VERSION = "untrained"


class UntrainedPopular:
    """The counted ranking, rebuilt from the store when stale (see the module doc)."""

    refresh_seconds: float = 5.0

    def __init__(
        self,
        store: Store,
        feedback_types: Mapping[str, FeedbackType],
        blocked_items: Callable[[Any], BlockedItems],
    ):
        self.store = store
        self.feedback_types = dict(feedback_types)
        self.blocked_items = blocked_items  # the engine's hidden-or-deleted mask of a model
        self._served: ServedModel | None = None
        self._built_at = -np.inf
        self._stale = True
        self._lock = threading.Lock()

    def changed(self) -> None:
        """An event was stored or an item hidden here: count again on the next request."""
        self._stale = True

    def served(self) -> ServedModel | None:
        """The ranking as a served model; None while no event is positive."""
        if self._stale or time.monotonic() - self._built_at >= self.refresh_seconds:
            with self._lock:
                if self._stale or time.monotonic() - self._built_at >= self.refresh_seconds:
                    self._stale = False  # before reading: an event stored meanwhile re-marks
                    self._built_at = time.monotonic()
                    try:
                        self._served = self._build()
                    except Exception:  # the store failed: the next request reads again
                        self._stale = True
                        raise
        return self._served

    def _build(self) -> ServedModel | None:
        cols = self.store.feedback.columns()
        data = Dataset.from_events(
            cols.user_ids, cols.item_ids, cols.types, cols.values, cols.timestamps,
            self.feedback_types,
        )  # fmt: skip
        model = Popular().fit(data)
        voted = model.scores > 0
        if not voted.any():
            return None
        model.scores[~voted] = -np.inf  # never listed: not a vote, not a filter
        manifest = {"created_at": time.time(), "family": "popular"}
        version = ModelVersion(NAME, VERSION, manifest)
        return ServedModel(version, model, self.blocked_items(model))
