"""External string ids <-> internal contiguous indices, kept apart by one explicit object.

The ids are one fixed-width unicode array and lookups are binary searches over it (or over a
sorted copy when the ids are not in order): at 1M ids of 8 characters that is 32 MB, where a
Python dict of str objects with the matching object array took ~150 MB. A lookup costs a few
microseconds instead of a dict probe; requests do a handful, training maps ids in bulk
(vectorised, faster than a dict comprehension).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Iterable

import numpy as np


def _unicode(ids: Iterable[str]) -> np.ndarray:
    """``ids`` as a fixed-width unicode array."""
    if isinstance(ids, np.ndarray) and ids.dtype.kind == "U":
        return np.ascontiguousarray(ids)
    values = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
    return np.asarray(values, dtype=str) if values else np.array([], dtype="<U1")


class Vocabulary:
    """An ordered set of external ids; ``index`` gives -1 for ids it has never seen."""

    __slots__ = ("__weakref__", "_ids", "_order", "_sorted")

    def __init__(self, ids: Iterable[str]):
        self._ids = _unicode(ids)
        self._ids.setflags(write=False)  # shared by models and requests: never changed
        if self._ids.ndim != 1:
            raise ValueError("vocabulary ids must be a flat sequence")
        if len(self._ids) < 2 or bool((self._ids[1:] > self._ids[:-1]).all()):
            self._order: np.ndarray | None = None  # in order already: search the ids
            self._sorted = self._ids
            return
        order = np.argsort(self._ids, kind="stable")
        self._sorted = self._ids[order]
        if bool((self._sorted[1:] == self._sorted[:-1]).any()):
            raise ValueError("vocabulary ids must be unique")
        self._order = order.astype(np.int32 if len(order) < 2**31 else np.int64)

    @classmethod
    def from_arrays(cls, *arrays: np.ndarray) -> Vocabulary:
        """The sorted union of the ids in ``arrays``."""
        parts = [_unicode(a) for a in arrays if len(a)]
        if not parts:
            return cls([])
        return cls(np.unique(np.concatenate(parts)))

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) >= 0

    @property
    def ids(self) -> np.ndarray:
        return self._ids

    def get(self, key: str) -> int:
        """The index of ``key``, or -1."""
        sorted_ids = self._sorted
        at = int(np.searchsorted(sorted_ids, key))
        if at >= len(sorted_ids) or sorted_ids[at] != key:
            return -1
        return at if self._order is None else int(self._order[at])

    def index(self, keys: Iterable[str]) -> np.ndarray:
        """Indices for ``keys`` (int64), -1 where unknown."""
        wanted = _unicode(keys)
        if not len(wanted) or not len(self._sorted):
            return np.full(len(wanted), -1, dtype=np.int64)
        at = np.searchsorted(self._sorted, wanted).clip(max=len(self._sorted) - 1)
        hit = self._sorted[at] == wanted
        found = at if self._order is None else self._order[at]
        return np.where(hit, found, -1).astype(np.int64)

    def id_of(self, indices: np.ndarray) -> np.ndarray:
        return self._ids[np.asarray(indices, dtype=np.int64)]

    def to_array(self) -> np.ndarray:
        """A fixed-width unicode array, storable with ``np.savez`` without pickles."""
        return self._ids

    @classmethod
    def from_array(cls, array: np.ndarray) -> Vocabulary:
        """The vocabulary of a stored array. Identical arrays (two served models over one
        catalogue, a model loaded again) share one object while any holder lives. Safe
        because a vocabulary is never changed in place (a grown item space is a new one)."""
        array = np.ascontiguousarray(array)
        if array.dtype.kind != "U":  # object or bytes arrays: not from a stored file
            return cls(array.tolist())
        digest = hashlib.blake2b(array.view(np.uint8).data, digest_size=16).digest()
        key = (array.dtype.str, len(array), digest)
        with _SHARED_LOCK:
            found = _SHARED.get(key)
        if found is not None:
            return found
        vocabulary = cls(array)
        with _SHARED_LOCK:
            return _SHARED.setdefault(key, vocabulary)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and np.array_equal(self._ids, other._ids)

    def __hash__(self) -> int:  # pragma: no cover - vocabularies are not dict keys
        return id(self)


# stored vocabularies by (dtype, length, content digest), while in use: see ``from_array``
_SHARED: weakref.WeakValueDictionary[tuple[str, int, bytes], Vocabulary] = (
    weakref.WeakValueDictionary()
)
_SHARED_LOCK = threading.Lock()
