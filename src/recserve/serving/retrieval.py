"""Candidate retrieval for large catalogues: a faiss inverted-file index per served model.

Exact top-n costs one matrix-vector product and a partition over every item: about 15 ms
per request at 1M items x 64 dims on one core. Above ``ann_min_items`` (a setting) the
engine attaches an :class:`IvfIndex` to each freshly loaded factor model instead; the model
asks it for a few times ``n`` candidates, re-scores them exactly and filters (see
``recserve.algorithms.factor_base``), so scores stay exact and only recall is approximate.

The index is an IVF with 8-bit scalar-quantised vectors under inner product (MIPS): k-means
cells over a sample (seconds at 1M x 64, hence built at load time in the serving process,
never stored in the registry), a quarter of the memory of the float vectors (64 MB at 1M x
64), and ``nprobe`` cells scanned per query. ``nprobe`` defaults to an eighth of the cells,
which gave recall@10 >= 0.97 against exact top-10 at 1M items (benchmarks/serving.py).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import faiss
import numpy as np

from recserve.algorithms.factor_base import FactorModel

log = logging.getLogger(__name__)

ANN_MIN_ITEMS = 50_000  # default of the ``ann_min_items`` setting
MAX_CELLS = 1024
TRAIN_POINTS_PER_CELL = 64  # k-means sample size, faiss's recommended minimum is 39


class IvfIndex:
    """Approximate maximum-inner-product search over the servable rows of a vector table."""

    def __init__(self, index: Any, labels: np.ndarray, quantiser: Any = None):
        self._index = index
        self._labels = labels  # faiss row -> item index
        self._quantiser = quantiser  # the IVF's coarse quantiser must outlive it

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        servable: np.ndarray | None = None,
        *,
        cells: int | None = None,
        probe_fraction: float = 1 / 8,
        seed: int = 0,
    ) -> IvfIndex:
        """Index the rows of ``vectors`` where ``servable`` (default: all).

        ``cells``: k-means cells (default ``sqrt(rows)`` up to 1024); ``probe_fraction`` of
        them are scanned per query.
        """
        labels = np.flatnonzero(np.ones(len(vectors), bool) if servable is None else servable)
        table = np.ascontiguousarray(vectors[labels], dtype=np.float32)
        rows, dim = table.shape
        if rows == 0:
            raise ValueError("nothing to index: no servable rows")
        nlist = cells or min(MAX_CELLS, max(1, int(math.sqrt(rows))))
        nlist = max(1, min(nlist, rows // TRAIN_POINTS_PER_CELL or 1))
        quantiser = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantiser, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        rng = np.random.default_rng(seed)
        sample_size = min(rows, TRAIN_POINTS_PER_CELL * nlist)
        sample = table[np.sort(rng.choice(rows, sample_size, replace=False))]
        index.cp.seed = seed
        index.train(sample)
        index.add(table)
        index.nprobe = max(1, min(nlist, round(nlist * probe_fraction)))
        return cls(index, labels.astype(np.int64), quantiser)

    @property
    def nprobe(self) -> int:
        return int(self._index.nprobe)

    @property
    def cells(self) -> int:
        return int(self._index.nlist)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Per query row up to ``k`` item indices by approximate inner product, -1 padded."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(k, len(self)))
        _, found = self._index.search(queries, k)
        return np.where(found >= 0, self._labels[np.clip(found, 0, None)], -1)


def attach_retrieval(model: object, min_items: int = ANN_MIN_ITEMS) -> bool:
    """Give a factor model with at least ``min_items`` items an ANN candidate index.

    Returns whether one was attached. Other families, and smaller catalogues, keep exact
    top-n.
    """
    if not isinstance(model, FactorModel) or model.n_items < min_items:
        return False
    if not model.servable_items.any():
        return False
    start = time.perf_counter()
    index = IvfIndex.build(model.retrieval_vectors(), model.servable_items)
    model.attach_candidates(index)
    log.info(
        "ANN index over %d items (%d cells, nprobe %d) built in %.1f s",
        len(index),
        index.cells,
        index.nprobe,
        time.perf_counter() - start,
    )
    return True
