"""The in-memory item catalogue of one model's item space: categories, tags, dates and
attributes as columns, so category and attribute filters are numpy masks, not queries.

Built from the store the first time a request filters on a model's items, and patched in
place when an item changes (``ServingEngine.items_changed``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from recserve.data import Vocabulary

ITEM_FIELDS = ("categories", "tags", "published_at")
MAX_ATTRIBUTES = 64  # attribute names with a column, the most common first
Key = tuple[str, Any]


def value_key(value: Any) -> Key | None:
    """A hashable key for a scalar (1 and 1.0 are equal, True and 1 are not); None: no key."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    return None


class Column:
    """One field over every item: a code per scalar value, (item, code) pairs for the
    elements of list values, and a numeric view. Updated in place when an item changes."""

    def __init__(self, values: Sequence[Any]):
        n = len(values)
        self.lookup: dict[Key, int] = {}
        self.codes = np.full(n, -1, dtype=np.int64)  # the scalar value's code, -1: none
        self.present = np.zeros(n, dtype=bool)
        self.numeric = np.full(n, np.nan)  # NaN when absent or not a number
        pair_items: list[int] = []
        pair_codes: list[int] = []
        for i, value in enumerate(values):
            if value is None:
                continue
            self.present[i] = True
            if isinstance(value, list):
                for element in value:
                    code = self._code(element)
                    if code >= 0:
                        pair_items.append(i)
                        pair_codes.append(code)
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.numeric[i] = float(value)
            self.codes[i] = self._code(value)
        # one attribute, replaced whole, so a reader never sees halves of two versions
        self.pairs = (np.asarray(pair_items, dtype=np.int64), np.asarray(pair_codes, np.int64))

    def _code(self, value: Any) -> int:
        key = value_key(value)
        if key is None:
            return -1
        return self.lookup.setdefault(key, len(self.lookup))

    def set(self, index: int, value: Any) -> None:
        """Item ``index`` now holds ``value`` (None: absent)."""
        items, codes = self.pairs
        keep = items != index
        new = [self._code(e) for e in value] if isinstance(value, list) else []
        new = [c for c in new if c >= 0]
        if new or not keep.all():
            self.pairs = (
                np.concatenate([items[keep], np.full(len(new), index, dtype=np.int64)]),
                np.concatenate([codes[keep], np.asarray(new, dtype=np.int64)]),
            )
        scalar = value is not None and not isinstance(value, list)
        number = scalar and isinstance(value, int | float) and not isinstance(value, bool)
        self.codes[index] = self._code(value) if scalar else -1
        self.numeric[index] = float(value) if number else np.nan
        self.present[index] = value is not None

    def members(self, values: Iterable[Any]) -> np.ndarray:
        """True for items whose value is, or whose list contains, one of ``values``."""
        wanted = [
            self.lookup[k] for k in map(value_key, values) if k is not None and k in self.lookup
        ]
        mask = np.isin(self.codes, wanted) if wanted else np.zeros(len(self.codes), dtype=bool)
        items, codes = self.pairs
        if wanted and len(items):
            mask[items[np.isin(codes, wanted)]] = True
        return mask

    def matrix(self) -> sp.csr_matrix:
        """Items x value codes, 1 where the item holds the value."""
        items, codes = self.pairs
        scalar = np.flatnonzero(self.codes >= 0)
        rows = np.concatenate([items, scalar])
        cols = np.concatenate([codes, self.codes[scalar]])
        shape = (len(self.codes), max(len(self.lookup), 1))
        matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
        matrix.sum_duplicates()
        matrix.data[:] = 1.0  # a value listed twice still counts once
        return matrix


def _value(row: Mapping[str, Any] | None, name: str) -> Any:
    """A field of a store row: an item field, else an attribute; None when absent."""
    if row is None:
        return None
    if name in ITEM_FIELDS:
        value = row.get(name)
        return value if value != [] else None
    return (row.get("attributes") or {}).get(name)


class ItemCatalogue:
    """Catalogue fields aligned with a model's item vocabulary (missing items: empty).

    Every item field and the ``MAX_ATTRIBUTES`` most common attribute names become columns
    at once; the rows themselves are not kept (a column costs 17 bytes per item, a row dict
    hundreds). A name without a column filters like a field no item has.
    """

    def __init__(self, items: Vocabulary, rows: Mapping[str, Mapping[str, Any]]):
        self.items = items
        n = len(items)
        ordered = [rows.get(item_id) for item_id in items.ids]
        counts: Counter[str] = Counter()
        for row in ordered:
            if row is not None:
                counts.update((row.get("attributes") or {}).keys())
        names = [*ITEM_FIELDS, *(k for k, _ in counts.most_common(MAX_ATTRIBUTES))]
        self._columns = {name: Column([_value(row, name) for row in ordered]) for name in names}
        self._empty = Column([None] * n)
        self._categories: sp.csr_matrix | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.items)

    def update(self, item_id: str, row: Mapping[str, Any] | None) -> None:
        """An item was created, changed or deleted: its new values go into the columns."""
        index = self.items.get(item_id)
        if index < 0:
            return
        with self._lock:
            names = (row.get("attributes") or {}).keys() if row is not None else ()
            new = [k for k in names if k not in self._columns]
            room = max(0, MAX_ATTRIBUTES + len(ITEM_FIELDS) - len(self._columns))
            if new[:room]:
                blank = [None] * len(self.items)
                self._columns = {**self._columns, **{k: Column(blank) for k in new[:room]}}
            for name, column in self._columns.items():
                column.set(index, _value(row, name))
            self._categories = None

    def column(self, name: str) -> Column:
        return self._columns.get(name, self._empty)

    def category_mask(self, category: str) -> np.ndarray:
        return self.column("categories").members([category])

    def categories(self) -> sp.csr_matrix:
        """Items x categories, rows scaled to unit length (cosine similarity by a product)."""
        matrix = self._categories
        if matrix is None:
            matrix = self.column("categories").matrix()
            norms = np.sqrt(np.asarray(matrix.sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            matrix = sp.csr_matrix(sp.diags(1.0 / norms) @ matrix, dtype=np.float32)
            self._categories = matrix
        return matrix
