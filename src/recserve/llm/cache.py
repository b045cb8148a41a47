"""A bounded, thread-safe cache of LLM answers with an expiry: the same prompt within the
TTL is answered without a call (prompts hold ids and titles, so they repeat)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class AnswerCache:
    """Least recently used out past ``entries``; an entry older than ``ttl`` is a miss."""

    def __init__(
        self, entries: int, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.entries = entries
        self.ttl = ttl
        self.clock = clock
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            found = self._data.get(key)
            if found is not None and self.clock() - found[0] < self.ttl:
                self._data.move_to_end(key)
                self.hits += 1
                return found[1]
            if found is not None:
                del self._data[key]
            self.misses += 1
            return None

    def put(self, key: str, value: Any) -> None:
        if self.entries <= 0:
            return
        with self._lock:
            self._data[key] = (self.clock(), value)
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
