"""Listwise re-ranking: the LLM's order of a list's top candidates, merged safely.

Ids the model names that are no candidate (or named twice) are dropped; candidates it
leaves out keep their order after the ranked ones. Pinned items keep their slots.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence


def merge_ranking(candidates: Sequence[str], ranking: Sequence[str]) -> list[str]:
    """``candidates`` in the model's order: its ranked ids first, then the rest as they were."""
    known = set(candidates)
    ranked = [i for i in dict.fromkeys(ranking) if i in known]
    placed = set(ranked)
    return ranked + [i for i in candidates if i not in placed]


def reorder(
    item_ids: Sequence[str], top: int, order: Sequence[str], pinned: Collection[str]
) -> list[int]:
    """Positions of ``item_ids`` after re-ranking: the first ``top`` unpinned items take
    ``order`` (a permutation of them); pinned items and the tail stay where they are."""
    movable = [p for p, i in enumerate(item_ids[:top]) if i not in pinned]
    position = {item_ids[p]: p for p in movable}
    result = list(range(len(item_ids)))
    for slot, item_id in zip(movable, order, strict=True):
        result[slot] = position[item_id]
    return result
