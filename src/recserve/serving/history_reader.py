"""A user's live history for a request: from the history cache, else read from the store.

When the store cannot be reached the answer comes from the model's trained state alone (an
empty live history: models fall back to the user's training row), so recommendations go on
through a database outage; counted in ``fallbacks`` and logged once per 10 s of outage
(docs/reliability.md). The empty history is not cached.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from recserve.config import FeedbackType
from recserve.data import Vocabulary
from recserve.serving.history import HistoryCache, UserHistory
from recserve.store import Store

log = logging.getLogger(__name__)


def store_unreachable(exc: BaseException) -> bool:
    """A database outage (down, restarting, dropped connection, pool exhausted), as opposed
    to a bug; the API maps the same errors to 503 ``database_unavailable``."""
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated


class HistoryReader:
    def __init__(
        self, store: Store, feedback_types: Mapping[str, FeedbackType], cache: HistoryCache
    ):
        self.store = store
        self.feedback_types = feedback_types
        self.cache = cache
        self.fallbacks = 0  # answers served without the live history (store unreachable)
        self._logged_at = -np.inf

    def read(self, user_id: str, items: Vocabulary) -> UserHistory:
        """The user's live history in the item space ``items``."""
        try:
            return self.cache.get(
                user_id,
                items,
                lambda: self.store.feedback.user_events(user_id),
                self.feedback_types,
            )
        except Exception as exc:
            if not store_unreachable(exc):
                raise
            self.fallbacks += 1
            now = time.monotonic()
            if now - self._logged_at >= 10.0:
                self._logged_at = now
                log.warning("store unreachable (%s): serving from trained state", exc)
            empty = sp.csr_matrix((1, len(items)), dtype=np.float32)
            return UserHistory(empty, empty, np.empty(0, dtype=np.int64))
