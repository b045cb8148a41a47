"""A synthetic data set whose right answers are obvious.

Users and items fall into ``BLOCKS`` taste groups: every user rates items of their own
block highly (rating 5, positive) and a few items of the next block badly (rating 1,
negative). A good model must recommend a user unseen items of their own block, and call
items of one block similar to each other. Items carry text and categories naming their
block, so content models can find the same structure; friends are mostly in one block.
"""

from __future__ import annotations

import numpy as np

from recserve.config import default_feedback_types
from recserve.data import Dataset

BLOCKS = 4
USERS_PER_BLOCK = 15
ITEMS_PER_BLOCK = 12
LIKED_PER_USER = 7
DISLIKED_PER_USER = 2
WORDS = ["jazz piano trio", "heavy metal guitar", "baroque string quartet", "techno synth beat"]


def user_block(user_index: int) -> int:
    return user_index // USERS_PER_BLOCK


def item_block(item_index: int) -> int:
    return item_index // ITEMS_PER_BLOCK


def make_synthetic(seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    users, items, values, times = [], [], [], []
    t = 1_600_000_000.0
    for u in range(BLOCKS * USERS_PER_BLOCK):
        b = user_block(u)
        liked = rng.choice(ITEMS_PER_BLOCK, LIKED_PER_USER, replace=False) + b * ITEMS_PER_BLOCK
        other = (b + 1) % BLOCKS
        disliked = (
            rng.choice(ITEMS_PER_BLOCK, DISLIKED_PER_USER, replace=False) + other * ITEMS_PER_BLOCK
        )
        for i, r in [*((i, 5.0) for i in liked), *((i, 1.0) for i in disliked)]:
            users.append(f"u{u:03d}")
            items.append(f"i{i:03d}")
            values.append(r)
            t += float(rng.integers(60, 3600))
            times.append(t)
    n = len(users)
    item_rows = {
        f"i{i:03d}": {
            "title": f"{WORDS[item_block(i)].split()[0]} album {i}",
            "text": f"A {WORDS[item_block(i)]} record, number {i}.",
            "categories": [f"genre-{item_block(i)}"],
            "tags": WORDS[item_block(i)].split()[:2],
            "published_at": 1_500_000_000.0 + i * 86_400.0,
            "hidden": False,
        }
        for i in range(BLOCKS * ITEMS_PER_BLOCK)
    }
    friends_a, friends_b = [], []
    for u in range(BLOCKS * USERS_PER_BLOCK):
        for v in rng.choice(USERS_PER_BLOCK, 3, replace=False) + user_block(u) * USERS_PER_BLOCK:
            if v != u:
                friends_a.append(f"u{u:03d}")
                friends_b.append(f"u{v:03d}")
    return Dataset.from_events(
        np.array(users, dtype=object),
        np.array(items, dtype=object),
        np.full(n, "rating", dtype=object),
        np.array(values),
        np.array(times),
        default_feedback_types(),
        item_rows=item_rows,
        relations=(np.array(friends_a, dtype=object), np.array(friends_b, dtype=object)),
    )


def rating_synthetic(seed: int = 0) -> Dataset:
    """For explicit-rating models: the set above plus, per user, a 1-star rating of two
    items of every block other than their own and the next (which they already rated)."""
    base = make_synthetic(seed)
    rng = np.random.default_rng(seed + 1)
    users, items = [], []
    for u in range(BLOCKS * USERS_PER_BLOCK):
        for other in range(2, BLOCKS):
            block = (user_block(u) + other) % BLOCKS
            for i in rng.choice(ITEMS_PER_BLOCK, 2, replace=False) + block * ITEMS_PER_BLOCK:
                users.append(f"u{u:03d}")
                items.append(f"i{i:03d}")
    n = len(base) + len(users)
    return Dataset.from_events(
        np.concatenate([base.users.id_of(base.user), users]).astype(object),
        np.concatenate([base.items.id_of(base.item), items]).astype(object),
        np.full(n, "rating", dtype=object),
        np.concatenate([base.value, np.ones(len(users))]),
        np.concatenate([base.timestamp, base.timestamp.max() + 1 + np.arange(len(users))]),
        default_feedback_types(),
        users=base.users,
        items=base.items,
    )
