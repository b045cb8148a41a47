"""One deployment's Redis: clients, key names under ``redis_prefix``, and a breaker that
keeps a Redis outage from slowing every request.

Every user of Redis in recserve has a local fallback (the champion poller, in-process
counters, an in-process rate limiter). When a call fails the breaker opens for
``cooldown`` seconds: callers skip Redis and use their fallback at once instead of waiting
for a connection timeout per request; the outage and the recovery are logged once each.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio

log = logging.getLogger("recserve.replication")

TIMEOUT_SECONDS = 0.5  # connect and socket timeout: Redis is local to the deployment
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


def safe_url(url: str) -> str:
    """The URL without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


class Breaker:
    """Open for ``cooldown`` seconds after a failure; callers check ``closed`` first."""

    def __init__(self, what: str, cooldown: float = 2.0):
        self.what = what
        self.cooldown = cooldown
        self._open_until = 0.0
        self._down = False
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return time.monotonic() >= self._open_until

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.cooldown
            first, self._down = not self._down, True
        if first:
            log.warning("Redis unreachable (%s): %s; using the local fallback", self.what, exc)

    def succeeded(self) -> None:
        if self._down:
            with self._lock:
                recovered, self._down = self._down, False
            if recovered:
                log.info("Redis reachable again (%s)", self.what)


class RedisLink:
    """Clients for one Redis URL and the names of this deployment's keys and channels."""

    def __init__(self, url: str, prefix: str = "recserve"):
        self.url = url
        self.prefix = prefix
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            health_check_interval=30,
        )
        self._async: redis.asyncio.Redis | None = None

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def async_client(self) -> redis.asyncio.Redis:
        """A client for the event loop (the rate limiter runs in ASGI middleware); made on
        first use, inside the loop that serves requests."""
        if self._async is None:
            self._async = redis.asyncio.Redis.from_url(
                self.url,
                socket_timeout=TIMEOUT_SECONDS,
                socket_connect_timeout=TIMEOUT_SECONDS,
                health_check_interval=30,
            )
        return self._async

    def pubsub_client(self) -> redis.Redis:
        """A client for a subscriber: no socket timeout, it waits for messages."""
        return redis.Redis.from_url(
            self.url, socket_connect_timeout=TIMEOUT_SECONDS, health_check_interval=30
        )

    def __repr__(self) -> str:
        return f"RedisLink({safe_url(self.url)!r}, prefix={self.prefix!r})"

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None
