"""The messages of each LLM task. Item data goes in as one JSON object per line (ids, titles
and categories escaped, cut short), so a title cannot break the prompt's layout."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

TITLE_MAX = 120
TEXT_MAX = 600
CATEGORIES_MAX = 5

Message = dict[str, str]


def _clip(text: Any, limit: int) -> str:
    return " ".join(str(text or "").split())[:limit]


def item_line(item_id: str, row: Mapping[str, Any] | None) -> str:
    """``{"id": ..., "title": ..., "categories": [...]}`` of one item, on one line."""
    row = row or {}
    categories = [_clip(c, 40) for c in (row.get("categories") or [])[:CATEGORIES_MAX]]
    entry = {"id": item_id, "title": _clip(row.get("title") or item_id, TITLE_MAX)}
    entry["categories"] = categories  # type: ignore[assignment]
    return json.dumps(entry, ensure_ascii=False)


def _history(titles: Sequence[str]) -> str:
    if not titles:
        return "The user has no recent items."
    return "The user's recent items, newest first:\n" + "\n".join(
        f"- {_clip(t, TITLE_MAX)}" for t in titles
    )


def _items(ids: Sequence[str], rows: Mapping[str, Mapping[str, Any]]) -> str:
    return "\n".join(item_line(i, rows.get(i)) for i in ids)


def rerank(
    history: Sequence[str], ids: Sequence[str], rows: Mapping[str, Mapping[str, Any]]
) -> list[Message]:
    system = (
        "You re-rank recommendation candidates for one user of a catalogue. Order the "
        "candidates from the best fit for this user to the worst. Answer with JSON only: "
        '{"ranking": [candidate ids]}. Use only the ids of the candidates.'
    )
    user = f"{_history(history)}\n\nCandidates:\n{_items(ids, rows)}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def explain(
    history: Sequence[str], ids: Sequence[str], rows: Mapping[str, Mapping[str, Any]]
) -> list[Message]:
    system = (
        "You explain a list of recommendations to the user it was made for, in plain, "
        "friendly words. Answer with JSON only: a one-sentence summary of why the list suits "
        'the user, and one short reason per item: {"summary": "...", "reasons": '
        '[{"item_id": "...", "why": "..."}]}.'
    )
    user = f"{_history(history)}\n\nRecommended, in order:\n{_items(ids, rows)}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def themes(ids: Sequence[str], rows: Mapping[str, Mapping[str, Any]]) -> list[Message]:
    system = (
        "You name what a list of items has in common, as one to three short themes of two "
        'to five words each, such as "Cosy winter mysteries". Answer with JSON only: '
        '{"themes": ["..."]}.'
    )
    user = f"Items:\n{_items(ids, rows)}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def enrich(row: Mapping[str, Any]) -> list[Message]:
    system = (
        "You describe a catalogue item for search and recommendations. From what is known "
        "about it, write a one or two sentence factual summary and up to eight short "
        'lowercase tags. Answer with JSON only: {"summary": "...", "tags": ["..."]}.'
    )
    lines = [f"Title: {_clip(row.get('title') or row.get('item_id'), TITLE_MAX)}"]
    if row.get("categories"):
        lines.append("Categories: " + ", ".join(_clip(c, 40) for c in row["categories"][:10]))
    if row.get("tags"):
        lines.append("Tags: " + ", ".join(_clip(t, 40) for t in row["tags"][:10]))
    if row.get("attributes"):
        lines.append("Attributes: " + _clip(json.dumps(row["attributes"]), TEXT_MAX))
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]
