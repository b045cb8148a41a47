"""Hypothesis strategies for evaluation tests: small datasets and ranked lists."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from recserve.data import Dataset, Vocabulary

# no example database on disk, no timing deadline: the suite stays fast and leaves no files
SETTINGS = settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def dataset(
    user: list[int],
    item: list[int],
    kind: list[int],
    timestamp: list[float],
    n_users: int,
    n_items: int,
    is_rating: list[bool] | None = None,
) -> Dataset:
    """A dataset built straight from index arrays; ``value`` is the event number."""
    n = len(user)
    kinds = np.asarray(kind, dtype=np.int8)
    return Dataset(
        users=Vocabulary(f"u{i}" for i in range(n_users)),
        items=Vocabulary(f"i{i}" for i in range(n_items)),
        user=np.asarray(user, dtype=np.int32),
        item=np.asarray(item, dtype=np.int32),
        kind=kinds,
        weight=np.where(kinds == 1, 1.0, 0.0).astype(np.float32),
        value=np.arange(n, dtype=np.float64),
        timestamp=np.asarray(timestamp, dtype=np.float64),
        is_rating=np.asarray(is_rating if is_rating is not None else [False] * n, dtype=bool),
    )


@st.composite
def datasets(draw: st.DrawFn, max_events: int = 60) -> Dataset:
    """Random events over few users, items and timestamps (so ties happen)."""
    n_users = draw(st.integers(1, 7))
    n_items = draw(st.integers(1, 9))
    events = draw(
        st.lists(
            st.tuples(
                st.integers(0, n_users - 1),
                st.integers(0, n_items - 1),
                st.sampled_from([1, 1, 1, 0, -1]),
                st.integers(0, 12),
            ),
            max_size=max_events,
        )
    )
    columns = list(zip(*events, strict=True)) if events else [[], [], [], []]
    user, item, kind, ts = (list(c) for c in columns)
    return dataset(user, item, kind, [float(t) for t in ts], n_users, n_items)


@st.composite
def rankings(draw: st.DrawFn, min_relevant: int = 0) -> tuple[np.ndarray, list[set[int]], int]:
    """``(recommended, relevant, n_items)``: duplicate-free lists padded with -1 at the end."""
    n_items = draw(st.integers(1, 25))
    n_users = draw(st.integers(1, 6))
    k = draw(st.integers(1, 8))
    recommended = np.full((n_users, k), -1, dtype=np.int64)
    relevant = []
    for u in range(n_users):
        length = draw(st.integers(0, min(k, n_items)))
        items = draw(
            st.lists(st.integers(0, n_items - 1), min_size=length, max_size=length, unique=True)
        )
        recommended[u, :length] = items
        relevant.append(
            draw(st.sets(st.integers(0, n_items - 1), min_size=min(min_relevant, n_items)))
        )
    return recommended, relevant, n_items
