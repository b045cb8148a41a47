"""A small shop whose right answers are obvious, for the client tests.

Three taste blocks of users and items: every user likes items of their own block (in a
session, with a purchase), dislikes one item of the next block, and is friends with the
next user of their block. Items carry their block as category and a price attribute.
"""

from __future__ import annotations

from typing import Any

BLOCKS = 3
USERS_PER_BLOCK = 6
ITEMS_PER_BLOCK = 8
LIKED_PER_USER = 4
START = 1_700_000_000

# API keys of the live server: one per scope, and a key with every scope.
ADMIN_KEY = "admin-key-0001"
READ_KEY = "read-key-00001"
WRITE_KEY = "write-key-0001"
API_KEYS = [
    {"key": ADMIN_KEY, "scopes": ["admin"], "name": "admin"},
    {"key": READ_KEY, "scopes": ["read"], "name": "reader"},
    {"key": WRITE_KEY, "scopes": ["write"], "name": "writer"},
]


def user_id(u: int) -> str:
    return f"u{u:02d}"


def item_id(i: int) -> str:
    return f"i{i:02d}"


def block_of_item(item: str) -> int:
    return int(item[1:]) // ITEMS_PER_BLOCK


def block_items(block: int) -> list[str]:
    return [item_id(block * ITEMS_PER_BLOCK + k) for k in range(ITEMS_PER_BLOCK)]


def items() -> list[dict[str, Any]]:
    return [
        {
            "item_id": item_id(i),
            "title": f"item {i}",
            "categories": [f"block-{i // ITEMS_PER_BLOCK}"],
            "attributes": {"price": 5 + i},
            "published_at": START - 86_400 * (BLOCKS * ITEMS_PER_BLOCK - i),
        }
        for i in range(BLOCKS * ITEMS_PER_BLOCK)
    ]


def users() -> list[dict[str, Any]]:
    return [
        {"user_id": user_id(u), "attributes": {"block": u // USERS_PER_BLOCK}}
        for u in range(BLOCKS * USERS_PER_BLOCK)
    ]


def events() -> list[dict[str, Any]]:
    """Likes and purchases within each block (one session per user), one dislike outside."""
    rows: list[dict[str, Any]] = []
    t = START
    for u in range(BLOCKS * USERS_PER_BLOCK):
        block = u // USERS_PER_BLOCK
        own = block_items(block)
        for k in range(LIKED_PER_USER):
            t += 60
            item = own[(u + k) % ITEMS_PER_BLOCK]
            for kind in ("like", "purchase"):
                rows.append(
                    {
                        "event_id": f"e{len(rows)}",
                        "user_id": user_id(u),
                        "item_id": item,
                        "type": kind,
                        "timestamp": t,
                        "session_id": f"s-{user_id(u)}",
                    }
                )
        disliked = block_items((block + 1) % BLOCKS)[u % ITEMS_PER_BLOCK]
        rows.append({"user_id": user_id(u), "item_id": disliked, "type": "dislike", "timestamp": t})
    return rows


def relations() -> list[dict[str, Any]]:
    """A friendship chain inside each block: u0 - u1 - u2 ..."""
    return [
        {"user_id": user_id(u), "other_user_id": user_id(u + 1), "type": "friend"}
        for u in range(BLOCKS * USERS_PER_BLOCK)
        if (u + 1) % USERS_PER_BLOCK
    ]
