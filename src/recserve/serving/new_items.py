"""Items created after a champion's training, placed through content at once.

Content families and two-tower can embed an item they never saw
(``Recommender.with_new_items``). Each such champion gets a copy whose item space also holds
the new ids (changed ones re-encoded), with its ``blocked`` mask grown from the items'
``hidden`` flags. The copies replace the served models in one assignment, so a request
sees either the old model or the new one, never a mix. The version (and ``ref``) stays the
same: the model was not retrained.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recserve.algorithms import Recommender
from recserve.data import ItemFeatures, Vocabulary
from recserve.serving.champions import Champions
from recserve.serving.served import ServedModel
from recserve.store import Store


def _can_place(served: ServedModel) -> bool:
    return type(served.model).with_new_items is not Recommender.with_new_items


def place(champions: Champions, store: Store, item_ids: Sequence[str]) -> list[str]:
    """Items were created or changed: content-capable champions place them. Returns the
    refs that were extended."""
    if not any(_can_place(s) for s in champions.all().values()):
        return []  # no served family can place new items: not even a store read
    rows = store.items.get_many(list(dict.fromkeys(item_ids)))
    ids = [i for i in dict.fromkeys(item_ids) if i in rows]  # deleted meanwhile: skip
    if not ids:
        return []
    features = ItemFeatures.from_rows(Vocabulary(ids), rows)
    with champions.lock:  # no champion swap in between
        current = champions.all()
        grown: dict[int, ServedModel] = {}
        for served in {id(s): s for s in current.values()}.values():
            model = served.model.with_new_items(ids, features)
            if model is None:
                continue
            assert model.items is not None
            added = model.items.ids[len(served.blocked) :]
            hidden = np.array([bool(rows[i]["hidden"]) for i in added], dtype=bool)
            grown[id(served)] = ServedModel(served.version, model, served.blocked.extended(hidden))
        if not grown:
            return []
        champions.replace_all({s: grown.get(id(m), m) for s, m in current.items()})
    return sorted({m.ref for m in grown.values()})


def missing(champions: Champions, store: Store) -> list[str]:
    """The store's items that some content-capable champion lacks (items inserted after its
    training snapshot), read a page at a time and matched in bulk."""
    known = [
        s.model.items
        for s in champions.all().values()
        if _can_place(s) and s.model.items is not None
    ]
    if not known:
        return []
    lacking_ids: list[str] = []
    for keys in store.items.key_chunks():
        lacking = np.zeros(len(keys), dtype=bool)
        for items in known:
            lacking |= items.index(keys) < 0
        lacking_ids.extend(key for key, out in zip(keys, lacking, strict=True) if out)
    return lacking_ids
