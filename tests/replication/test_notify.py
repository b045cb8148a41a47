"""Champion-changed notifications over Redis pub/sub (``ChampionChannel``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from recserve.replication import ChampionChannel, RedisLink
from tests.replication.support import DOWN_URL, REDIS_URL


class Refreshes:
    """Counts the refreshes a channel asks for (stands in for ``engine.refresh``)."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Event()

    def __call__(self) -> list[str]:
        self.count += 1
        self.changed.set()
        return []


def wait_for(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


pytestmark = pytest.mark.redis


@pytest.fixture
def channels(redis_prefix: str) -> Iterator[list[tuple[ChampionChannel, Refreshes]]]:
    made = []
    for _ in range(2):
        refreshes = Refreshes()
        channel = ChampionChannel(RedisLink(REDIS_URL, redis_prefix), refreshes)
        channel.start()
        made.append((channel, refreshes))
    for channel, _ in made:
        assert channel.connected.wait(5)
    yield made
    for channel, _ in made:
        channel.stop()


def test_publish_refreshes_every_replica_within_a_second(
    channels: list[tuple[ChampionChannel, Refreshes]],
) -> None:
    (a, a_refreshes), (b, b_refreshes) = channels
    assert wait_for(lambda: a_refreshes.count == 1 and b_refreshes.count == 1)  # on subscribe
    assert a.publish()
    assert wait_for(lambda: b.received == 1 and a.received == 1)
    assert b_refreshes.count == 2 and a_refreshes.count == 2


def test_other_prefixes_are_not_disturbed(
    channels: list[tuple[ChampionChannel, Refreshes]],
) -> None:
    (a, _), _ = channels
    other = ChampionChannel(RedisLink(REDIS_URL, a.link.prefix + "-other"), Refreshes())
    assert other.publish()
    time.sleep(0.3)
    assert a.received == 0


def test_redis_down_neither_crashes_nor_blocks(caplog: pytest.LogCaptureFixture) -> None:
    refreshes = Refreshes()
    channel = ChampionChannel(RedisLink(DOWN_URL, "down"), refreshes)
    with caplog.at_level(logging.WARNING, logger="recserve.replication"):
        channel.start()
        assert not channel.publish()  # logged, not raised
        time.sleep(0.5)  # a few reconnection attempts
        listener = channel._thread
        channel.stop()
    assert listener is not None and not listener.is_alive()  # the retry loop ended on stop
    assert refreshes.count == 0 and not channel.connected.is_set()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("champion notifications unavailable" in m for m in messages) == 1
    assert any("could not publish" in m for m in messages)
