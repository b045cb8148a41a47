"""Stable assignment of users to variants: SHA-256 of the experiment and user ids mapped to
[0, 1), then the variant whose cumulative share covers that point.

The same user gets the same variant on every request, replica and restart (Python's
``hash()`` is salted per process, so it is not used); two experiments assign independently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_SCALE = float(2**64)


def bucket(experiment_id: str, user_id: str) -> float:
    """The user's point in [0, 1) for this experiment (a NUL separates the two ids, so
    ("ab", "c") and ("a", "bc") differ)."""
    key = f"{experiment_id}\x00{user_id}".encode("utf-8", errors="surrogatepass")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / _SCALE


def choose_variant(shares: Sequence[float], point: float) -> int:
    """The index of the variant whose cumulative share interval holds ``point``; shares
    are normalised by their sum, so rounding can never leave a user unassigned."""
    total = float(sum(shares))
    edge = 0.0
    for index, share in enumerate(shares):
        edge += share / total
        if point < edge:
            return index
    return len(shares) - 1
