"""A bounded, thread-safe memo of per-request results keyed by their inputs' bytes.

Factor models fold a user's live history into a query vector on every request (a linear
solve: ~0.1 ms). Between two of the user's events the history, hence the vector, does not
change, so the vector is memoised under the exact bytes of its inputs: a changed history is
a different key, so an entry can never be stale and nothing needs invalidating. The oldest
entries go first once ``capacity`` is reached. ``MemoisedTopN`` does the same for a whole
one-user list, for the families whose list costs a pass over every item.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import scipy.sparse as sp

FOLD_IN_MEMO_ROWS = 20_000  # per served model: ~14 MB at 64 factors, 20-event histories


class BytesMemo:
    """``get(key, compute)``: the value memoised under ``key``, else ``compute()`` stored."""

    def __init__(self, capacity: int = FOLD_IN_MEMO_ROWS):
        self.capacity = capacity
        self._values: dict[bytes, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: bytes, compute: Callable[[], np.ndarray]) -> np.ndarray:
        found = self._values.get(key)
        if found is not None:
            return found
        value = compute()
        value.setflags(write=False)  # shared by later requests: nobody may change it
        if self.capacity > 0:
            with self._lock:
                while len(self._values) >= self.capacity:
                    del self._values[next(iter(self._values))]  # insertion order: oldest
                self._values[key] = value
        return value


def request_key(*arrays: np.ndarray) -> bytes:
    """The exact content of ``arrays`` (dtype, shape and bytes of each) as one key."""
    parts = []
    for array in arrays:
        parts.append(f"{array.dtype.str}{array.shape}".encode())
        parts.append(np.ascontiguousarray(array).tobytes())
    return b"|".join(parts)


TOP_N_MEMO_ROWS = 50_000  # per served model: ~10 MB of 10-item lists


class MemoisedTopN:
    """A mixin for families whose one-user top-n costs a dense pass over the catalogue (EASE:
    ``history @ B``; sequential models: a network pass and every item's score): a user's
    list is memoised under the exact bytes of what it depends on (the user's index, the
    request's history, sequence and left-out items, ``n``, the catalogue size), so a repeated
    request with nothing changed is a dictionary lookup, and any change is a new key. Valid
    because a served model is never changed in place (a grown item space is a new object).
    Put it before the family's base class: ``class EASE(MemoisedTopN, Recommender[...])``."""

    def recommend(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        n: int = 10,
        exclude: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        compute = partial(super().recommend, users, history, n, exclude, sequences)  # type: ignore[misc]
        users = np.asarray(users, dtype=np.int64)
        if len(users) != 1 or not all(
            m is None or type(m) is sp.csr_matrix for m in (history, exclude)
        ):
            return compute()
        parts = [users, np.array([n, self.n_items, history is None, exclude is None])]  # type: ignore[attr-defined]
        if history is not None:
            parts += [history.indices, history.data]
        if exclude is not None:
            parts.append(exclude.indices[exclude.data != 0])
        if sequences is not None:
            parts.append(np.asarray(sequences[0]))
        packed = self._top_n_memo.get(request_key(*parts), lambda: _pack_top_n(*compute()))
        return packed[0].astype(np.int64)[None, :], packed[1].astype(np.float32)[None, :]

    @property
    def _top_n_memo(self) -> BytesMemo:
        memo = self.__dict__.get("_top_n_memo_rows")
        if memo is None:  # two first requests at once: one memo wins, both answers are right
            memo = self.__dict__.setdefault("_top_n_memo_rows", BytesMemo(TOP_N_MEMO_ROWS))
        return memo


def _pack_top_n(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """One user's (ids, scores) as a 2 x n float64 array (both exact in float64)."""
    return np.stack([ids[0].astype(np.float64), scores[0].astype(np.float64)])
