"""Live popular/trending counters shared by every replica through Redis.

The same contract as ``serving.live.LiveCounts`` (distinct users with a positive event
since the champion was trained, one vote per (user, item) pair), kept in two Redis keys
per served model ref: a hash ``item_id -> votes`` and a set of the pairs already counted.
One Lua script per batch checks and counts the pairs atomically, so two replicas receiving
the same like count it once. Items are hash fields by id, not index, so replicas whose
item spaces grew differently still agree.

Reads fetch the hash at most every ``ttl`` seconds (100 ms) and after each local write, so
a vote counted by any replica shows in every replica's next answer within ``ttl``. When
Redis is unreachable, votes are counted in process (this replica only) and added to the
last counts read, until Redis answers again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import numpy as np

from recserve.data import Vocabulary
from recserve.replication.link import REDIS_ERRORS, Breaker, RedisLink
from recserve.serving.live import MAX_PAIRS, LiveCounts

CHUNK = 2000  # pairs per script call: Redis runs a script alone, keep each one short

# KEYS: counts hash, pairs set; ARGV: max pairs, then user, item, user, item ...
_ADD = """
local counts, pairs, limit = KEYS[1], KEYS[2], tonumber(ARGV[1])
local added = 0
for i = 2, #ARGV, 2 do
  local member = ARGV[i] .. '\\31' .. ARGV[i + 1]
  if redis.call('SISMEMBER', pairs, member) == 0 then
    if redis.call('SCARD', pairs) < limit then
      redis.call('SADD', pairs, member)
    end
    redis.call('HINCRBY', counts, ARGV[i + 1], 1)
    added = added + 1
  end
end
return added
"""


class RedisLiveCounts:
    """Per item votes of one served model, shared through Redis; see the module doc."""

    def __init__(
        self,
        link: RedisLink,
        ref: str,
        items: Vocabulary,
        *,
        ttl: float = 0.1,
        breaker: Breaker | None = None,
    ):
        self.link = link
        self.ref = ref
        self.items = items
        self.ttl = ttl
        self.breaker = breaker or Breaker("live counters")
        self.counts_key = link.key("live", ref, "counts")
        self.pairs_key = link.key("live", ref, "pairs")
        self._script = link.client.register_script(_ADD)
        self._shared = np.zeros(len(items), dtype=np.float32)  # last read from Redis
        self._shared_changed = np.empty(0, dtype=np.int64)  # its items with a vote, sorted
        self._read_at = -np.inf
        self._offline = LiveCounts(items)  # votes counted while Redis was unreachable
        self._lock = threading.Lock()

    def add(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Count (user_id, item_id) pairs of positive events; a repeated pair counts once,
        across every replica."""
        known = [(u, i) for u, i in pairs if self.items.get(i) >= 0]
        if not known:
            return
        if self.breaker.closed:
            try:
                for start in range(0, len(known), CHUNK):
                    args: list[str | int] = [MAX_PAIRS]
                    for user_id, item_id in known[start : start + CHUNK]:
                        args += [user_id, item_id]
                    self._script(keys=[self.counts_key, self.pairs_key], args=args)
                self.breaker.succeeded()
                self._read_at = -np.inf  # this replica sees its own votes at once
                return
            except REDIS_ERRORS as exc:
                self.breaker.failed(exc)
        self._offline.add(known)

    def _fresh(self) -> None:
        """Read the shared counters again when the copy is ``ttl`` old."""
        if time.monotonic() - self._read_at >= self.ttl and self.breaker.closed:
            with self._lock:
                if time.monotonic() - self._read_at >= self.ttl:
                    self._read()

    @property
    def counts(self) -> np.ndarray:
        """Votes per item index: shared ones (at most ``ttl`` old) plus offline ones."""
        self._fresh()
        if self._offline.any:
            return self._shared + self._offline.counts
        return self._shared

    @property
    def changed(self) -> np.ndarray:
        self._fresh()
        if self._offline.any:
            return np.union1d(self._shared_changed, self._offline.changed)
        return self._shared_changed

    def _read(self) -> None:
        try:
            stored = self.link.client.hgetall(self.counts_key)
        except REDIS_ERRORS as exc:
            self.breaker.failed(exc)
            return
        self.breaker.succeeded()
        shared = np.zeros(len(self.items), dtype=np.float32)
        changed = np.empty(0, dtype=np.int64)
        if stored:
            ids = [k.decode() if isinstance(k, bytes) else str(k) for k in stored]
            index = self.items.index(ids)
            votes = np.fromiter((float(v) for v in stored.values()), np.float32, len(ids))
            keep = (index >= 0) & (votes != 0)
            np.add.at(shared, index[keep], votes[keep])
            changed = np.unique(index[keep])
        self._shared, self._shared_changed = shared, changed
        self._read_at = time.monotonic()

    @property
    def any(self) -> bool:
        return len(self.changed) > 0

    def regrown(self, items: Vocabulary) -> RedisLiveCounts:
        """The same shared counters over a grown item space (they are keyed by item id)."""
        grown = RedisLiveCounts(self.link, self.ref, items, ttl=self.ttl, breaker=self.breaker)
        grown._offline = self._offline.regrown(items)
        return grown

    def clear(self) -> None:
        """Drop this model's shared counters (tests, a retired champion)."""
        self.link.client.delete(self.counts_key, self.pairs_key)
        self._read_at = -np.inf


class RedisCountsFactory:
    """An ``engine.model_state.counts_factory``: (model ref, item space) -> ``RedisLiveCounts``,
    all sharing one breaker."""

    def __init__(self, link: RedisLink, ttl: float = 0.1):
        self.link = link
        self.ttl = ttl
        self.breaker = Breaker("live counters")

    def __call__(self, ref: str, items: Vocabulary) -> RedisLiveCounts:
        return RedisLiveCounts(self.link, ref, items, ttl=self.ttl, breaker=self.breaker)
