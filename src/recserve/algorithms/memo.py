"""A bounded, thread-safe memo of per-request results keyed by their inputs' bytes.

Factor models fold a user's live history into a query vector on every request (a linear
solve: ~0.1 ms). Between two of the user's events the history, hence the vector, does not
change, so the vector is memoised under the exact bytes of its inputs: a changed history is
a different key, so an entry can never be stale and nothing needs invalidating. The oldest
entries go first once ``capacity`` is reached.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

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
