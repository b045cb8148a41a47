"""Users' live histories in a model's item space, cached between requests.

Reading a user's events from the store and indexing them was about half of a request's
cost (docs/benchmarks.md, Serving). ``HistoryCache`` keeps, per user, the events classified
by the feedback-type rules, in each item space (one ``Vocabulary`` per served model), packed
in one small array per space (~0.5 KB for 20 events), in a bounded LRU.

Correctness: the engine drops a user's entry whenever their feedback is written
(``ServingEngine.observe_feedback``) or they are deleted (``forget_user``), so an event
posted now still changes the next answer. A write through another process (another API
replica, ``recserve import`` against a running server's database) cannot drop this
process's entry: entries then expire after ``ttl`` seconds (the ``history_cache_ttl_seconds``
setting; by default no expiry in single-process mode, 1 s when ``redis_url`` names replicas).
A read that raced with a write is not cached (a generation counter).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from recserve.config import FeedbackKind, FeedbackType
from recserve.data import Vocabulary
from recserve.data.dataset import NEGATIVE, POSITIVE, READ
from recserve.store.feedback import UserEvents

Event = tuple[str, str, float | None, float]  # (item_id, type, value, timestamp), oldest first
REPLICA_TTL_SECONDS = 1.0  # default expiry when several replicas share the store
_KIND_CODE = {FeedbackKind.POSITIVE: POSITIVE, FeedbackKind.NEGATIVE: NEGATIVE}
SPACES_PER_USER = 4  # item spaces kept per user (champions of the scenarios that need one)


@dataclass(frozen=True)
class UserHistory:
    """A user's live state in one model's item space."""

    positive: sp.csr_matrix  # 1 x items, summed confidence of positive events
    seen: sp.csr_matrix  # 1 x items, what never to recommend again
    sequence: np.ndarray  # item indices of positive events, oldest first


@dataclass(frozen=True)
class Classified:
    """A user's events after the feedback-type rules (the same as ``Dataset.from_events``)."""

    item_ids: list[str]
    kind: np.ndarray  # int8: 1 positive, 0 read, -1 negative
    weight: np.ndarray  # float32 confidence, 0 unless positive
    rated: np.ndarray  # bool: an explicit rating

    @classmethod
    def of(
        cls, events: Sequence[Event] | UserEvents, rules: Mapping[str, FeedbackType]
    ) -> Classified:
        n = len(events)
        kind = np.zeros(n, dtype=np.int8)
        weight = np.zeros(n, dtype=np.float32)
        rated = np.zeros(n, dtype=bool)
        if not n:
            return cls([], kind, weight, rated)
        if isinstance(events, UserEvents):  # as the store reads them: columns already
            item_ids, values = events.item_ids, events.values
            types = np.array(events.types, dtype=object)
        else:
            item_ids = [e[0] for e in events]
            types = np.array([e[1] for e in events], dtype=object)
            values = np.array([np.nan if e[2] is None else e[2] for e in events], np.float64)
        for name in set(types.tolist()):
            rule = rules.get(str(name))
            if rule is None:  # not configured: a read event
                continue
            mask = types == name
            v = values[mask]
            if rule.kind == FeedbackKind.RATING:
                assert rule.positive_at_or_above is not None
                assert rule.negative_at_or_below is not None
                k = np.where(v >= rule.positive_at_or_above, POSITIVE, READ)
                kind[mask] = np.where(v <= rule.negative_at_or_below, NEGATIVE, k)
                rated[mask] = ~np.isnan(v)
            else:
                kind[mask] = _KIND_CODE.get(rule.kind, READ)
            w = np.full(len(v), rule.weight, dtype=np.float32)
            if rule.value_scaling == "log":
                w *= (1.0 + np.log1p(np.nan_to_num(v, nan=0.0).clip(min=0))).astype(np.float32)
            weight[mask] = np.where(kind[mask] == POSITIVE, w, 0.0)
        return cls(item_ids, kind, weight, rated)

    def in_space(self, items: Vocabulary) -> UserHistory:
        """The CSR rows and sequence in ``items``' indices (ids it lacks are left out)."""
        n_items = len(items)
        index = items.index(self.item_ids)
        known = index >= 0
        positive = known & (self.kind == POSITIVE)
        seen = known & ((self.kind != READ) | self.rated)
        return UserHistory(
            positive=_row(index[positive], self.weight[positive], n_items),
            seen=_row(index[seen], None, n_items),
            sequence=index[positive],
        )


def _row(indices: np.ndarray, weights: np.ndarray | None, n_items: int) -> sp.csr_matrix:
    """A 1 x n_items float32 CSR row, duplicates summed (``weights`` None: all 1)."""
    columns, inverse = np.unique(indices, return_inverse=True)
    if weights is None:
        data = np.ones(len(columns), dtype=np.float32)
    else:
        data = np.bincount(inverse, weights=weights, minlength=len(columns)).astype(np.float32)
    return csr_row(columns.astype(np.int32), data, n_items)


def pack(history: UserHistory) -> np.ndarray:
    """A history as one int32 array (~0.5 KB for 20 events, against ~4.5 KB as CSR objects):
    [positives, seen, sequence length, positive columns, their weights' bits, seen columns,
    sequence]."""
    positive, seen = history.positive, history.seen
    head = np.array([positive.nnz, seen.nnz, len(history.sequence)], dtype=np.int32)
    return np.concatenate(
        [
            head,
            positive.indices.astype(np.int32),
            positive.data.astype(np.float32).view(np.int32),
            seen.indices.astype(np.int32),
            history.sequence.astype(np.int32),
        ]
    )


def unpack(packed: np.ndarray, n_items: int) -> UserHistory:
    n_pos, n_seen, n_seq = (int(x) for x in packed[:3])
    cut = np.cumsum([3, n_pos, n_pos, n_seen, n_seq])
    columns = packed[cut[0] : cut[1]].copy()  # copies: a model may change its rows in place
    weights = packed[cut[1] : cut[2]].view(np.float32).copy()
    return UserHistory(
        positive=csr_row(columns, weights, n_items),
        seen=csr_row(packed[cut[2] : cut[3]].copy(), np.ones(n_seen, dtype=np.float32), n_items),
        sequence=packed[cut[3] : cut[4]].astype(np.int64),
    )


def csr_row(columns: np.ndarray, data: np.ndarray, n_items: int) -> sp.csr_matrix:
    """A 1 x n_items CSR row from sorted, unique int32 ``columns`` in range and their
    ``data``, without scipy's format checks (~30 us a row, several rows a request) when
    this scipy's CSR layout is the one checked at import; else the checked constructor."""
    indptr = np.array([0, len(columns)], dtype=np.int32)
    if not _FAST_ROWS:
        return sp.csr_matrix((data, columns, indptr), shape=(1, n_items))
    row = sp.csr_matrix.__new__(sp.csr_matrix)
    row.__dict__.update(
        _shape=(1, n_items), maxprint=_MAXPRINT, indices=columns, indptr=indptr, data=data
    )
    return row


def _fast_rows_work() -> tuple[bool, int]:
    """Whether a row built by attributes equals the checked constructor's (scipy layout)."""
    columns, data = np.array([1, 5], dtype=np.int32), np.array([2.0, 3.0], dtype=np.float32)
    checked = sp.csr_matrix((data, columns, np.array([0, 2], dtype=np.int32)), shape=(1, 9))
    layout = set(vars(checked)) == {"_shape", "maxprint", "indices", "indptr", "data"}
    if not layout:
        return False, 50
    row = sp.csr_matrix.__new__(sp.csr_matrix)
    row.__dict__.update(vars(checked))
    same = (row != checked).nnz == 0 and row.has_canonical_format and row.nnz == 2
    return bool(same), int(checked.maxprint)


_FAST_ROWS, _MAXPRINT = _fast_rows_work()


@dataclass
class _Entry:
    """One user's packed histories, per item space (a weak reference to its vocabulary)."""

    expires: float
    spaces: list[tuple[weakref.ref[Vocabulary], np.ndarray]] = field(default_factory=list)

    def packed(self, items: Vocabulary) -> np.ndarray | None:
        for ref, packed in self.spaces:
            if ref() is items:
                return packed
        return None

    def add(self, items: Vocabulary, packed: np.ndarray) -> None:
        live = [(r, p) for r, p in self.spaces if r() is not None][-(SPACES_PER_USER - 1) :]
        self.spaces = [*live, (weakref.ref(items), packed)]


class HistoryCache:
    """Bounded LRU of users' classified events and their rows per item space.

    ``max_users`` 0 turns caching off (every request reads the store); ``ttl`` None: entries
    stay until evicted or invalidated.
    """

    def __init__(
        self,
        max_users: int = 100_000,
        ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_users = max_users
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every invalidation: a racing read is not cached
        self.hits = 0
        self.misses = 0
        self.evictions = 0  # least recently used users dropped to stay within max_users

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self,
        user_id: str,
        items: Vocabulary,
        read: Callable[[], Sequence[Event] | UserEvents],
        rules: Mapping[str, FeedbackType],
    ) -> UserHistory:
        """The user's history in ``items``; ``read()`` gives their events on a miss (a user
        cached in another item space only is read again: spaces change with champions)."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is not None and entry.expires > now:
                packed = entry.packed(items)
                if packed is not None:
                    self._entries.move_to_end(user_id)
                    self.hits += 1
                    return unpack(packed, len(items))
            generation = self._generation
            self.misses += 1
        history = Classified.of(read(), rules).in_space(items)
        if self.max_users > 0:
            with self._lock:
                if generation == self._generation:
                    entry = self._entries.get(user_id)
                    if entry is None or entry.expires <= now:
                        entry = self._entries[user_id] = _Entry(self._expiry(now))
                    entry.add(items, pack(history))
                    self._entries.move_to_end(user_id)
                    while len(self._entries) > self.max_users:
                        self._entries.popitem(last=False)
                        self.evictions += 1
        return history

    def holds(self, user_id: str, items: Vocabulary) -> bool:
        """Whether the user's history in ``items`` would come from the cache (no store read)
        now."""
        entry = self._entries.get(user_id)
        return (
            entry is not None and entry.expires > self.clock() and entry.packed(items) is not None
        )

    def _expiry(self, now: float) -> float:
        return np.inf if self.ttl is None else now + self.ttl

    def invalidate(self, user_ids: Iterable[str]) -> None:
        """Their feedback changed (written, or the user deleted): re-read on next use."""
        with self._lock:
            self._generation += 1
            for user_id in user_ids:
                self._entries.pop(user_id, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


def replica_ttl(ttl: float | None, replicas: bool) -> float | None:
    """The TTL in effect: ``ttl`` when set; else none alone, ``REPLICA_TTL_SECONDS`` with
    replicas (whose writes this process never hears of)."""
    if ttl is not None:
        return ttl
    return REPLICA_TTL_SECONDS if replicas else None
