"""A small bookshop for the LLM stage's tests, written through the API of a live server:
30 titled books in three categories (the last five without text), and readers whose likes
make the popular order obvious (book b00 most liked, then b01, ...)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.live import live_server

CATEGORIES = ("mystery", "space", "cooking")
BOOKS = 30
NO_TEXT = {f"b{i:02d}" for i in range(25, BOOKS)}
READER = "ann"  # liked b00 and b01: they are left out of her lists


def title(i: int) -> str:
    return f"Book {i} of {CATEGORIES[i % 3]}"


def items() -> list[dict[str, object]]:
    return [
        {
            "item_id": f"b{i:02d}",
            "title": title(i),
            "categories": [CATEGORIES[i % 3]],
            **({"text": f"A {CATEGORIES[i % 3]} story, number {i}."} if i < 25 else {}),
        }
        for i in range(BOOKS)
    ]


def events() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(20):  # b00 liked by 20 readers, b01 by 19, ...
        for r in range(20 - i):
            rows.append({"user_id": f"r{r:02d}", "item_id": f"b{i:02d}", "type": "like"})
    rows += [
        {"user_id": READER, "item_id": "b00", "type": "like", "timestamp": 1_700_000_000},
        {"user_id": READER, "item_id": "b01", "type": "like", "timestamp": 1_700_000_100},
    ]
    return rows


def fill(base: str) -> None:
    assert httpx.post(f"{base}/v1/items", json=items(), timeout=30).status_code == 200
    assert httpx.post(f"{base}/v1/feedback", json=events(), timeout=30).status_code == 200


@contextlib.contextmanager
def bookshop(data_dir: Path, **env: str) -> Iterator[str]:
    """A ``recserve serve`` process with the bookshop in its store; yields its base URL."""
    with live_server("serve", data_dir=data_dir, **env) as (base, _process):
        fill(base)
        yield base
