"""Several API replicas over one store and registry: what they share through Redis
(champion-changed notifications, live popular/trending counters, rate-limit windows).

See docs/scaling.md. Every piece falls back to in-process behaviour when ``redis_url`` is
unset or Redis is unreachable.
"""

from recserve.replication.counts import RedisCountsFactory, RedisLiveCounts
from recserve.replication.link import Breaker, RedisLink, safe_url
from recserve.replication.notify import ChampionChannel
from recserve.replication.ratelimit import Decision, LocalWindows, RateLimiter
from recserve.replication.replicas import PublishingRegistry, Replication

__all__ = [
    "Breaker",
    "ChampionChannel",
    "Decision",
    "LocalWindows",
    "PublishingRegistry",
    "RateLimiter",
    "RedisCountsFactory",
    "RedisLink",
    "RedisLiveCounts",
    "Replication",
    "safe_url",
]
