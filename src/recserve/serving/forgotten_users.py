"""Privacy deletes as serving sees them: which users' trained state must not be used.

A deleted user's mark (recserve.store.forgotten) says when they were deleted. A served model
trained on a snapshot taken before then must stop using what it learnt about them at once:
their index answers as unknown. Marks made by other replicas are re-read from the store
every ``reload_seconds``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from recserve.serving.served import ServedModel
from recserve.store import Store
from recserve.store.forgotten import snapshot_time, user_key

log = logging.getLogger(__name__)


class ForgottenUsers:
    def __init__(self, store: Store, on_new_marks: Callable[[], None]):
        """``on_new_marks``: called when a re-read finds deletions made elsewhere (the engine
        drops its cached histories)."""
        self.store = store
        self.reload_seconds = 2.0  # how often marks made by other replicas are read
        self._on_new_marks = on_new_marks
        self._lock = threading.Lock()
        self._marks: dict[str, float] = {}  # user key -> time of the latest deletion
        self._read_at = -np.inf
        self.reload()

    def reload(self) -> None:
        """(Re)read every mark from the store, keeping newer local ones; on a store error the
        marks already held stay in use and the read is retried after the interval."""
        self._read_at = time.monotonic()
        try:
            stored = self.store.forgotten.all()
        except Exception:  # the store is down: serving goes on with the marks it has
            log.warning("reading forgotten users failed; keeping the marks already known")
            stored = {}
        with self._lock:  # a mark added meanwhile by ``forget`` is kept
            held = self._marks
            for key, at in held.items():
                if at > stored.get(key, -np.inf):
                    stored[key] = at
            self._marks = stored
        if any(at > held.get(key, -np.inf) for key, at in stored.items()):
            self._on_new_marks()

    def fresh(self) -> bool:
        """Whether the marks are recent enough to use without a store read."""
        return time.monotonic() - self._read_at < self.reload_seconds

    def forget(self, user_id: str, deleted_at: float | None = None) -> None:
        """The user was deleted (at ``deleted_at``; default: the time the store recorded)."""
        if deleted_at is None:
            deleted_at = self.store.forgotten.deleted_at(user_id)
            if deleted_at is None:
                return
        key = user_key(user_id)
        with self._lock:
            marks = dict(self._marks)
            marks[key] = max(deleted_at, marks.get(key, -np.inf))
            self._marks = marks

    def applies(self, user_id: str, served: ServedModel) -> bool:
        """Whether ``served`` must not use what it learnt about ``user_id``: the user was
        deleted after (or at) the model's data snapshot. A model trained on a snapshot taken
        after the deletion holds only the data of whoever uses the id since."""
        if not self.fresh():
            self.reload()
        if not self._marks:
            return False
        deleted_at = self._marks.get(user_key(user_id))
        if deleted_at is None:
            return False
        taken_at, _ = snapshot_time(served.version.manifest)
        return taken_at is None or taken_at <= deleted_at
