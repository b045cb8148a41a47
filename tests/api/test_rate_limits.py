"""Per-key rate limits: 429 ``rate_limited`` with ``Retry-After``, counted before the body is
read, in process or shared through Redis by several app instances (replicas)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recserve.replication import RateLimiter, RedisLink
from tests.replication.support import DOWN_URL, REDIS_URL, redis_prefix

__all__ = ["redis_prefix"]  # the fixture, for the tests below

KEYS: list[dict[str, Any]] = [
    {"key": "limited-key-1", "scopes": ["read", "write"], "rate_limit_per_minute": 2},
    {"key": "default-key-1", "scopes": ["read"]},
]


def test_over_the_limit_gets_429_with_retry_after(make_client: Callable[..., TestClient]) -> None:
    client = make_client(rate_limit_per_minute=3)
    answers = [client.get("/v1/items") for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    refused = client.get("/v1/items")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # Writes are counted too, and refused before their body is read (this one is not JSON).
    write = client.post("/v1/items", content=b"{not json", headers={"Content-Type": "text/plain"})
    assert (write.status_code, write.json()["code"]) == (429, "rate_limited")
    # Only /v1 is limited: health checks and metrics scrapes are not.
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_limits_per_key(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=KEYS, rate_limit_per_minute=4)
    key = {"X-API-Key": "limited-key-1"}
    assert [client.get("/v1/items", headers=key).status_code for _ in range(3)] == [200, 200, 429]
    # Another key has its own window, with the default limit.
    other = {"X-API-Key": "default-key-1"}
    assert [client.get("/v1/items", headers=other).status_code for _ in range(5)] == [
        *[200] * 4,
        429,
    ]
    # A refused key check is answered before the limit is counted.
    assert client.get("/v1/items").json()["code"] == "missing_api_key"


def test_no_limit_by_default(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    response = client.get("/v1/items")
    assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers
    assert all(client.get("/v1/items").status_code == 200 for _ in range(30))


@pytest.mark.redis
def test_replicas_share_the_limit_through_redis(
    make_client: Callable[..., TestClient], redis_prefix: str
) -> None:
    settings = {"api_keys": KEYS, "redis_url": REDIS_URL, "redis_prefix": redis_prefix}
    a, b = make_client(**settings), make_client(**settings)
    key = {"X-API-Key": "limited-key-1"}
    assert a.get("/v1/items", headers=key).status_code == 200
    assert b.get("/v1/items", headers=key).status_code == 200
    refused = a.get("/v1/items", headers=key)
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert 50 <= int(refused.headers["Retry-After"]) <= 60
    assert b.get("/v1/items", headers=key).status_code == 429


def test_redis_down_falls_back_to_a_local_limit(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="recserve.replication"):
        client = make_client(redis_url=DOWN_URL, rate_limit_per_minute=2)
        codes = [client.get("/v1/items").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert sum("Redis unreachable (rate limits)" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.redis
def test_window_ends_and_counting_restarts(redis_prefix: str) -> None:
    async def run(link: RedisLink | None) -> None:
        limiter = RateLimiter(link, window=0.3)
        first, second = await limiter.hit("k", 1), await limiter.hit("k", 1)
        assert first.allowed and not second.allowed and second.retry_after == 1
        await asyncio.sleep(0.35)
        assert (await limiter.hit("k", 1)).allowed
        if link is not None:
            await link.aclose()
            link.close()

    asyncio.run(run(RedisLink(REDIS_URL, redis_prefix)))
    asyncio.run(run(None))
