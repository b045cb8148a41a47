"""Item details for list responses: the stored fields a request names in ``fields``, read
for every item of one response in a single store query (not one per item)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from recserve.schemas import iso
from recserve.schemas.scenarios import ItemDetails
from recserve.store import Store

Details = dict[str, ItemDetails]  # item id -> its named fields
_TIMES = frozenset({"published_at", "created_at", "updated_at"})


def read(store: Store, item_ids: Iterable[str], fields: Sequence[str]) -> Details | None:
    """The ``fields`` of ``item_ids`` (None when no field is named: nothing is read). An item
    deleted since it was ranked has no entry."""
    if not fields:
        return None
    keys = list(dict.fromkeys(item_ids))
    rows = store.items.columns_of(keys, fields)
    return {
        key: ItemDetails.model_validate({f: iso(row[f]) if f in _TIMES else row[f] for f in fields})
        for key, row in rows.items()
    }
