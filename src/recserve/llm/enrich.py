"""Enrichment of items that lack text: the LLM writes a short summary (stored as the item's
``text``) and tags (stored as its ``tags`` when it has none), through the store's ordinary
item update, so word search, meaning search and content models use them.

Idempotent: only an item without text is enriched, and once enriched it has text. Text or
tags a user gave are never overwritten: each item is read again just before its update and
only fields still empty are written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from recserve.llm import prompts
from recserve.llm.answers import ENRICHMENT
from recserve.llm.client import LlmClient, LlmFailure
from recserve.store import Store

ENRICHED, SKIPPED, FAILED, NOT_FOUND = "enriched", "skipped", "failed", "not_found"


@dataclass
class Enriched:
    """What happened to one item."""

    item_id: str
    status: str
    fields: list[str] = field(default_factory=list)
    fallback: str | None = None
    tokens: int = 0


def lacks_text(row: Mapping[str, Any]) -> bool:
    return not str(row.get("text") or "").strip()


def items_without_text(store: Store, limit: int) -> list[str]:
    """The first ``limit`` items (by id) that have no text, read a chunk of ids at a time."""
    found: list[str] = []
    for keys in store.items.key_chunks():
        rows = store.items.columns_of(keys, ["text"])
        found += [k for k in keys if k in rows and lacks_text(rows[k])]
        if len(found) >= limit:
            return found[:limit]
    return found


def _clean_tags(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))


def enrich_one(client: LlmClient, store: Store, item_id: str) -> Enriched:
    row = store.items.get(item_id)
    if row is None:
        return Enriched(item_id, NOT_FOUND)
    if not lacks_text(row):
        return Enriched(item_id, SKIPPED)
    try:
        reply = client.complete("enrich", prompts.enrich(row), ENRICHMENT)
    except LlmFailure as exc:
        client.observer.fell_back("enrich", exc.reason)
        return Enriched(item_id, FAILED, fallback=exc.reason)
    current = store.items.get(item_id)  # what a user wrote meanwhile stays
    if current is None:
        return Enriched(item_id, NOT_FOUND, tokens=reply.tokens)
    changes: dict[str, Any] = {}
    if lacks_text(current):
        changes["text"] = reply.answer.summary.strip()
    tags = _clean_tags(reply.answer.tags)
    if not current.get("tags") and tags:
        changes["tags"] = tags
    if not changes:
        return Enriched(item_id, SKIPPED, tokens=reply.tokens)
    store.items.patch(item_id, changes)
    return Enriched(item_id, ENRICHED, sorted(changes), tokens=reply.tokens)


def enrich_items(
    client: LlmClient, store: Store, item_ids: Sequence[str], workers: int = 1
) -> Iterator[Enriched]:
    """``enrich_one`` for each item, ``workers`` at a time, in the order given."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        yield from pool.map(lambda i: enrich_one(client, store, i), item_ids)
