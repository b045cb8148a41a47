"""Tokens an LLM may spend per clock hour in this process (``llm_token_budget``).

Counted from each response's ``usage`` (prompt + completion). A call that would start with
the hour's budget spent is refused before it is sent; the call that crosses the limit is
allowed to finish, so an hour may overshoot by one answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

HOUR = 3600.0


class TokenBudget:
    """``limit`` tokens per clock hour (0: unlimited)."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.clock = clock
        self._hour = int(clock() // HOUR)
        self._spent = 0
        self._lock = threading.Lock()

    def _roll(self) -> None:
        hour = int(self.clock() // HOUR)
        if hour != self._hour:
            self._hour, self._spent = hour, 0

    def available(self) -> bool:
        """Whether a call may start now."""
        if self.limit <= 0:
            return True
        with self._lock:
            self._roll()
            return self._spent < self.limit

    def spend(self, tokens: int) -> None:
        with self._lock:
            self._roll()
            self._spent += max(0, tokens)

    @property
    def spent(self) -> int:
        """Tokens spent in the current hour."""
        with self._lock:
            self._roll()
            return self._spent
