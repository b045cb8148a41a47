"""Redis for replication tests: skipped with the reason when no server listens on
127.0.0.1:6379, and a fresh key prefix per test, its keys deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import REDIS_UP

REDIS_URL = "redis://127.0.0.1:6379/0"
DOWN_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: Redis "down"


def require_redis() -> None:
    if not REDIS_UP:
        pytest.skip("Redis is not running on 127.0.0.1:6379 (.ci/run starts it)")


def unique_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def drop_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix (``redis_prefix`` setting) no other test uses; cleaned up afterwards."""
    require_redis()
    prefix = unique_prefix()
    yield prefix
    drop_prefix(prefix)
