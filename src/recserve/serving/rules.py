"""Business rules: pinned (promoted) items placed in given slots of a ranked list."""

from __future__ import annotations

from collections.abc import Sequence


def apply_pins(
    item_ids: list[str], scores: list[float], pins: Sequence[tuple[str, int]]
) -> tuple[list[str], list[float], set[str]]:
    """The list with each pinned item moved (or inserted) at its 1-based position.

    Pins apply in position order; a position past the end appends. A pinned item takes the
    score of the item it displaces, so scores stay non-increasing. Returns the pinned ids too.
    """
    ids, values = list(item_ids), list(scores)
    pinned: set[str] = set()
    for item_id, position in sorted(pins, key=lambda pin: pin[1]):
        if item_id in pinned:
            continue
        if item_id in ids:
            at = ids.index(item_id)
            del ids[at], values[at]
        slot = min(position - 1, len(ids))
        score = values[slot] if slot < len(values) else (values[-1] if values else 0.0)
        ids.insert(slot, item_id)
        values.insert(slot, score)
        pinned.add(item_id)
    return ids, values, pinned
