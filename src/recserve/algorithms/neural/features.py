"""Feature encoding shared by the feature-aware neural models (two-tower, FM ranker).

Everything here is numpy/scipy, except :func:`mlp`, which imports torch when called, so
importing this module stays cheap (model discovery imports every module in every process).

* :func:`item_tokens`: categories and tags as one multi-hot token vocabulary, a CSR
  ``items x tokens`` matrix fed to an ``EmbeddingBag`` (``bag_inputs``).
* :func:`item_token_names` / :func:`tokens_of`: that vocabulary's names, and the same
  encoding for items that arrive after training (two-tower's cold items).
* :func:`item_text_vectors`: the MiniLM embedding of each item's document, encoded once
  per fit (zero rows for items without text).
* :class:`HistorySampler`: per training row, up to ``max_history`` of the user's positive
  items other than the row's target, so the user tower learns from history what it will
  see at request time (fold-in) without leaking the answer.
* :func:`mean_rows`: the request-time counterpart, a row-normalised binary history.
* :func:`hour_of_day`: the context bucket of an event (UTC), ``UNKNOWN_HOUR`` when absent.
* :func:`validation_split`: a seeded hold-out of training rows for early stopping.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from recserve.data import Dataset, ItemFeatures

UNKNOWN_HOUR = 24
N_HOURS = 25  # 24 hours of the day plus "unknown"


def item_tokens(data: Dataset, max_tokens: int = 10_000) -> sp.csr_matrix:
    """Binary ``items x tokens`` CSR of each item's categories and tags.

    Tokens are ``category:<name>`` and ``tag:<name>``; only the ``max_tokens`` most
    frequent are kept (ties by name, so the vocabulary is deterministic).
    """
    n_items = data.n_items
    features = data.item_features
    if features is None:
        return sp.csr_matrix((n_items, 0), dtype=np.float32)
    rows: list[int] = []
    names: list[str] = []
    for i in range(n_items):
        for prefix, values in (("category:", features.categories[i]), ("tag:", features.tags[i])):
            for value in values:
                rows.append(i)
                names.append(prefix + str(value))
    if not names:
        return sp.csr_matrix((n_items, 0), dtype=np.float32)
    vocabulary, inverse, counts = np.unique(
        np.array(names, dtype=str), return_inverse=True, return_counts=True
    )
    order = np.lexsort((vocabulary, -counts))[:max_tokens]  # most frequent first
    column = np.full(len(vocabulary), -1, dtype=np.int64)
    column[np.sort(order)] = np.arange(len(order))
    cols = column[inverse]
    keep = cols >= 0
    matrix = sp.csr_matrix(
        (np.ones(int(keep.sum()), np.float32), (np.array(rows)[keep], cols[keep])),
        shape=(n_items, len(order)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.sort_indices()
    return matrix


def item_token_names(data: Dataset, max_tokens: int = 10_000) -> np.ndarray:
    """The names of the columns of ``item_tokens(data, max_tokens)``, in column order, so
    items that arrive after training can be encoded the same way (``tokens_of``)."""
    features = data.item_features
    if features is None:
        return np.array([], dtype=str)
    names = [
        prefix + str(value)
        for i in range(data.n_items)
        for prefix, values in (("category:", features.categories[i]), ("tag:", features.tags[i]))
        for value in values
    ]
    if not names:
        return np.array([], dtype=str)
    vocabulary, counts = np.unique(np.array(names, dtype=str), return_counts=True)
    order = np.lexsort((vocabulary, -counts))[:max_tokens]  # as item_tokens keeps them
    return vocabulary[np.sort(order)]


def tokens_of(features: ItemFeatures, n_items: int, names: np.ndarray) -> sp.csr_matrix:
    """Binary ``items x len(names)`` CSR of the items' categories and tags over a fixed token
    vocabulary (``item_token_names``); tokens outside it are dropped."""
    column = {name: k for k, name in enumerate(names.tolist())}
    rows, cols = [], []
    for i in range(n_items):
        for prefix, values in (("category:", features.categories[i]), ("tag:", features.tags[i])):
            for value in values:
                k = column.get(prefix + str(value))
                if k is not None:
                    rows.append(i)
                    cols.append(k)
    matrix = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(n_items, len(names))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.sort_indices()
    return matrix


def item_text_vectors(data: Dataset, batch_size: int = 64) -> np.ndarray | None:
    """MiniLM vectors of each item's document (``n_items x 384``, zero rows where there is
    no text); None when no item has any text (nothing worth loading the encoder for)."""
    from recserve.algorithms.content import item_documents

    documents = item_documents(data)
    with_text = np.flatnonzero([bool(d) for d in documents])
    if not len(with_text):
        return None
    from recserve.algorithms.text_embedding import encode

    encoded = encode([documents[i] for i in with_text], batch_size=batch_size)
    vectors = np.zeros((data.n_items, encoded.shape[1]), dtype=np.float32)
    vectors[with_text] = encoded
    return vectors


def bag_inputs(matrix: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, offsets)`` for ``torch.nn.EmbeddingBag`` over the given rows of a CSR."""
    sub = matrix[rows]
    return sub.indices.astype(np.int64), sub.indptr[:-1].astype(np.int64)


def binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.eliminate_zeros()
    out.data[:] = 1.0
    out.sort_indices()
    return out


def mean_rows(history: sp.csr_matrix) -> sp.csr_matrix:
    """Binary history rows scaled to sum to one (empty rows stay empty): ``H @ E`` is then
    the mean of the history items' vectors, the request-time input of the user side."""
    h = binary(history)
    counts = np.diff(h.indptr).astype(np.float32)
    h.data /= np.repeat(np.maximum(counts, 1.0), np.diff(h.indptr))
    return h


class HistorySampler:
    """Up to ``max_history`` random positives of a user, never the row's own target.

    Users with at most ``max_history`` positives give all of them (minus the target);
    longer histories are sampled with replacement, an unbiased estimate of the full mean
    used at request time. Deterministic for a given ``rng``.
    """

    def __init__(self, positives: sp.csr_matrix, max_history: int):
        h = binary(positives)
        self.indptr = h.indptr.astype(np.int64)
        self.indices = h.indices.astype(np.int64)
        self.max_history = max_history

    def sample(
        self, users: np.ndarray, targets: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(items, mask)``, both ``len(users) x width``; masked-out slots hold item 0."""
        users = np.asarray(users, dtype=np.int64)
        start = self.indptr[users]
        length = self.indptr[users + 1] - start
        width = int(min(self.max_history, length.max(initial=0)))
        if width == 0 or not len(self.indices):
            return np.zeros((len(users), 1), np.int64), np.zeros((len(users), 1), bool)
        slots = np.broadcast_to(np.arange(width), (len(users), width))
        drawn = (rng.random((len(users), width)) * length[:, None]).astype(np.int64)
        pos = np.where(length[:, None] > width, drawn, slots)
        valid = pos < length[:, None]
        items = self.indices[np.minimum(start[:, None] + pos, len(self.indices) - 1)]
        valid &= items != np.asarray(targets, dtype=np.int64)[:, None]
        return np.where(valid, items, 0), valid

    def sample_bags(
        self, users: np.ndarray, targets: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same draw as ``sample``, as ``embedding_bag`` inputs: ``(items, offsets,
        weights)`` with weights ``1 / bag size``, so a "sum" bag is the history mean."""
        return as_bags(*self.sample(users, targets, rng))


def as_bags(items: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A masked ``rows x width`` array of ids as mean-weighted ``embedding_bag`` inputs."""
    counts = mask.sum(axis=1)
    offsets = np.zeros(len(items), dtype=np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    weights = np.repeat(1.0 / np.maximum(counts, 1), counts).astype(np.float32)
    return items[mask].astype(np.int64), offsets, weights


def hour_of_day(timestamps: np.ndarray) -> np.ndarray:
    """UTC hour (0-23) of Unix timestamps; ``UNKNOWN_HOUR`` where a timestamp is missing."""
    ts = np.asarray(timestamps, dtype=np.float64)
    hours = np.full(ts.shape, UNKNOWN_HOUR, dtype=np.int64)
    ok = np.isfinite(ts)
    hours[ok] = (np.floor(ts[ok] / 3600.0) % 24).astype(np.int64)
    return hours


def validation_split(
    n: int, fraction: float, max_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(train rows, validation rows)``: a seeded ``fraction`` of ``n`` rows (at most
    ``max_size``) held out; no hold-out when fraction is 0 or fewer than 20 rows would be."""
    size = min(round(n * fraction), max_size)
    if size < 20 or size >= n:
        return np.arange(n), np.empty(0, dtype=np.int64)
    held = np.sort(rng.choice(n, size, replace=False))
    keep = np.ones(n, dtype=bool)
    keep[held] = False
    return np.flatnonzero(keep), held


def batches_of(n: int, size: int) -> Sequence[slice]:
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def mlp(sizes: Sequence[int], dropout: float = 0.0) -> Any:
    """``Linear -> ReLU (-> Dropout)`` between consecutive ``sizes``, plain Linear last."""
    import torch

    layers: list[Any] = []
    for k, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b))
        if k < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
            if dropout > 0:
                layers.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*layers)
