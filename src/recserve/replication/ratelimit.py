"""Per-key request limits: a fixed window per caller, shared through Redis when configured.

A caller's window opens with its first request and lasts ``window`` seconds; its first
``limit`` requests pass, the next ones are refused until the window ends (``retry_after``
says when). With Redis, one atomic script per request (INCR, and PEXPIRE on the first)
counts across every replica; without it, or while Redis is unreachable, each process
counts on its own.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from redis.commands.core import AsyncScript

from recserve.replication.link import REDIS_ERRORS, Breaker, RedisLink

WINDOW_SECONDS = 60.0
MAX_LOCAL_CALLERS = 100_000  # windows kept in process before expired ones are dropped

# KEYS: the caller's counter; ARGV: window in ms. Returns {requests so far, ms left}.
_HIT = """
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float  # until the caller's window ends

    @property
    def retry_after(self) -> int:
        """Whole seconds for a ``Retry-After`` header (at least 1)."""
        return max(1, math.ceil(self.reset_seconds))


def _decide(count: int, limit: int, reset_seconds: float) -> Decision:
    return Decision(count <= limit, limit, max(0, limit - count), reset_seconds)


class LocalWindows:
    """The in-process counter: caller -> (requests, window end)."""

    def __init__(self, window: float = WINDOW_SECONDS):
        self.window = window
        self._windows: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def hit(self, caller: str, limit: int) -> Decision:
        now = time.monotonic()
        with self._lock:
            count, ends = self._windows.get(caller, (0, 0.0))
            if now >= ends:
                count, ends = 0, now + self.window
                if len(self._windows) >= MAX_LOCAL_CALLERS:
                    self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
            count += 1
            self._windows[caller] = (count, ends)
        return _decide(count, limit, ends - now)


class RateLimiter:
    """Counts requests per caller; through Redis when ``link`` is given and reachable."""

    def __init__(self, link: RedisLink | None = None, window: float = WINDOW_SECONDS):
        self.link = link
        self.window = window
        self.local = LocalWindows(window)
        self.breaker = Breaker("rate limits")
        self._window_ms = int(window * 1000)
        self._script: AsyncScript | None = None

    async def hit(self, caller: str, limit: int) -> Decision:
        """Count one request of ``caller`` against ``limit`` requests per window."""
        if self.link is not None and self.breaker.closed:
            try:
                if self._script is None:  # EVALSHA from then on
                    self._script = self.link.async_client().register_script(_HIT)
                count, left_ms = await self._script(
                    keys=[self.link.key("rate", caller)], args=[self._window_ms]
                )
            except REDIS_ERRORS as exc:
                self.breaker.failed(exc)
            else:
                self.breaker.succeeded()
                return _decide(int(count), limit, int(left_ms) / 1000)
        return self.local.hit(caller, limit)
