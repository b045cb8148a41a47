"""External string ids <-> internal contiguous indices, kept apart by one explicit object."""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Iterable

import numpy as np


class Vocabulary:
    """An ordered set of external ids; ``index`` gives -1 for ids it has never seen."""

    __slots__ = ("__weakref__", "_ids", "_lookup")

    def __init__(self, ids: Iterable[str]):
        self._ids = np.asarray(list(ids), dtype=object)
        self._lookup = {key: i for i, key in enumerate(self._ids)}
        if len(self._lookup) != len(self._ids):
            raise ValueError("vocabulary ids must be unique")

    @classmethod
    def from_arrays(cls, *arrays: np.ndarray) -> Vocabulary:
        """The sorted union of the ids in ``arrays``."""
        parts = [np.asarray(a, dtype=object) for a in arrays if len(a)]
        if not parts:
            return cls([])
        return cls(sorted(set(np.concatenate(parts).tolist())))

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._lookup

    @property
    def ids(self) -> np.ndarray:
        return self._ids

    def get(self, key: str) -> int:
        """The index of ``key``, or -1."""
        return self._lookup.get(key, -1)

    def index(self, keys: Iterable[str]) -> np.ndarray:
        """Indices for ``keys`` (int64), -1 where unknown."""
        lookup = self._lookup
        return np.fromiter((lookup.get(k, -1) for k in keys), dtype=np.int64)

    def id_of(self, indices: np.ndarray) -> np.ndarray:
        return self._ids[np.asarray(indices, dtype=np.int64)]

    def to_array(self) -> np.ndarray:
        """A fixed-width unicode array, storable with ``np.savez`` without pickles."""
        if not len(self._ids):
            return np.array([], dtype="<U1")
        return np.array(self._ids.tolist(), dtype=str)

    @classmethod
    def from_array(cls, array: np.ndarray) -> Vocabulary:
        """The vocabulary of a stored array. Identical arrays (two served models over one
        catalogue, a model loaded again) share one object while any holder lives: at 1M
        items a vocabulary's strings and dict take ~150 MB. Safe because a vocabulary is
        never changed in place (a grown item space is a new object)."""
        array = np.ascontiguousarray(array)
        if array.dtype.kind not in "US":  # object arrays: not from a stored file
            return cls(array.tolist())
        digest = hashlib.blake2b(array.view(np.uint8).data, digest_size=16).digest()
        key = (array.dtype.str, len(array), digest)
        with _SHARED_LOCK:
            found = _SHARED.get(key)
        if found is not None:
            return found
        vocabulary = cls(array.tolist())
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
