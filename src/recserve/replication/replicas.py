"""What one API process shares with its sibling replicas, built from the settings.

Without ``redis_url`` everything stays in process (one replica: the champion poller,
in-process live counters, an in-process rate limiter). With it:

- promotions and rollbacks made through this replica's registry, and training jobs it
  finishes, are published on the champions channel; every replica refreshes on each one;
- popular/trending live counters are Redis hashes shared by all replicas;
- rate-limit windows are Redis counters shared by all replicas.
"""

from __future__ import annotations

import logging
from pathlib import Path

from recserve.config import Settings
from recserve.registry import ModelRegistry
from recserve.replication.counts import RedisCountsFactory
from recserve.replication.link import RedisLink
from recserve.replication.notify import ChampionChannel
from recserve.replication.ratelimit import RateLimiter
from recserve.serving import ServingEngine

log = logging.getLogger("recserve.replication")


class PublishingRegistry(ModelRegistry):
    """A registry whose ``promote`` and ``rollback`` also tell every replica."""

    def __init__(self, root: Path, channel: ChampionChannel):
        super().__init__(root)
        self.channel = channel

    def promote(self, scenario: str, name: str, version: str) -> None:
        super().promote(scenario, name, version)
        self.channel.publish()

    def rollback(self, scenario: str) -> str:
        ref = super().rollback(scenario)
        self.channel.publish()
        return ref


class Replication:
    """Redis link, champions channel, shared counters and rate limiter of one process."""

    def __init__(self, settings: Settings):
        self.link = (
            RedisLink(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
        )
        self.limiter = RateLimiter(self.link)
        self.channel = ChampionChannel(self.link, self._refresh) if self.link else None
        self._engine: ServingEngine | None = None

    def registry(self, root: Path) -> ModelRegistry:
        """The registry the API writes through (publishing when replicas share Redis)."""
        if self.channel is None:
            return ModelRegistry(root)
        return PublishingRegistry(root, self.channel)

    def attach(self, engine: ServingEngine) -> None:
        """Share the engine's live counters and start listening for champion changes."""
        self._engine = engine
        if self.link is None or self.channel is None:
            return
        engine.model_state.counts_factory = RedisCountsFactory(self.link)
        self.channel.start()
        log.info("replica mode: champions, counters and rate limits shared through %r", self.link)

    def _refresh(self) -> list[str]:
        return self._engine.refresh() if self._engine is not None else []

    def champions_changed(self) -> None:
        """A training job finished here: refresh this replica and tell the others."""
        self._refresh()
        if self.channel is not None:
            self.channel.publish()

    async def close(self) -> None:
        if self.channel is not None:
            self.channel.stop()
        if self.link is not None:
            await self.link.aclose()
            self.link.close()
