"""Live popular/trending counters shared through Redis (``RedisLiveCounts``)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from recserve.data import Vocabulary
from recserve.replication import RedisCountsFactory, RedisLink
from recserve.serving.live import LiveCounts, popular_scores
from tests.replication.support import DOWN_URL, REDIS_URL

ITEMS = Vocabulary(["a", "b", "c"])

pytestmark = pytest.mark.redis


@pytest.fixture
def link(redis_prefix: str) -> RedisLink:
    return RedisLink(REDIS_URL, redis_prefix)


def test_two_replicas_see_the_same_votes(link: RedisLink) -> None:
    # Two processes' counters of the same served model: one link each, like two replicas.
    other = RedisLink(REDIS_URL, link.prefix)
    a = RedisCountsFactory(link)("popular/v0001", ITEMS)
    b = RedisCountsFactory(other, ttl=0.0)("popular/v0001", ITEMS)
    assert not b.any
    a.add([("u1", "b"), ("u2", "b"), ("u1", "c")])
    np.testing.assert_array_equal(b.counts, [0, 2, 1])
    np.testing.assert_array_equal(a.counts, [0, 2, 1])  # the writer sees its own votes at once
    # One vote per (user, item) pair across replicas; unknown items are ignored.
    b.add([("u1", "b"), ("u3", "b"), ("u3", "zzz")])
    np.testing.assert_array_equal(b.counts, [0, 3, 1])
    assert b.any
    assert a.changed.tolist() == b.changed.tolist() == [1, 2]
    np.testing.assert_array_equal(popular_scores(np.ones(3, np.float32), b.counts), [1, 4, 2])


def test_counts_are_per_model_and_cached_briefly(link: RedisLink) -> None:
    first = RedisCountsFactory(link, ttl=60.0)("popular/v0001", ITEMS)
    writer = RedisCountsFactory(link)("popular/v0001", ITEMS)
    newer = RedisCountsFactory(link)("popular/v0002", ITEMS)
    assert not first.any  # read now, then cached for a minute
    writer.add([("u1", "a")])
    assert not first.any  # within its ttl the cached counts answer
    assert not newer.any  # a new champion starts from zero
    np.testing.assert_array_equal(writer.counts, [1, 0, 0])


def test_regrown_keeps_the_shared_counts(link: RedisLink) -> None:
    counts = RedisCountsFactory(link)("popular/v0001", ITEMS)
    counts.add([("u1", "c")])
    grown = counts.regrown(Vocabulary(["a", "b", "c", "d"]))
    grown.add([("u1", "d")])
    np.testing.assert_array_equal(grown.counts, [0, 0, 1, 1])


def test_redis_down_counts_in_process(caplog: pytest.LogCaptureFixture) -> None:
    counts = RedisCountsFactory(RedisLink(DOWN_URL, "down"))("popular/v0001", ITEMS)
    with caplog.at_level(logging.WARNING, logger="recserve.replication"):
        counts.add([("u1", "a"), ("u1", "a"), ("u2", "a")])
        counts.add([("u3", "b")])
        np.testing.assert_array_equal(counts.counts, [2, 1, 0])
        assert counts.changed.tolist() == [0, 1] and counts.any
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1  # logged once per outage, not per call


def test_local_counts_still_the_default() -> None:
    local = LiveCounts(ITEMS)
    local.add([("u1", "a"), ("u1", "a")])
    np.testing.assert_array_equal(local.counts, [1, 0, 0])
