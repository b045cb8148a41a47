"""Candidate retrieval for large catalogues: a faiss inverted-file index per served model.

Exact top-n costs one matrix-vector product and a partition over every item: about 15 ms
per request at 1M items x 64 dims on one core. Above ``ann_min_items`` (a setting) the
engine attaches an :class:`IvfIndex` to each freshly loaded factor model instead; the model
asks it for a few times ``n`` candidates, re-scores them exactly and filters (see
``recserve.algorithms.factor_base``), so scores stay exact and only recall is approximate.
A champion of a similar-items scenario also gets a second index over its unit-length item
factors for ``similar_items`` (``attach_neighbours``): exact cosine took ~29 ms per request
and a 256 MB normalised copy at 1M items.

The index is an IVF with 8-bit scalar-quantised vectors under inner product (MIPS): k-means
cells over a sample (seconds at 1M x 64, hence built at load time in the serving process,
never stored in the registry), a quarter of the memory of the float vectors (64 MB at 1M x
64), and ``nprobe`` cells scanned per query.

``nprobe`` is calibrated on the model's own queries when it is built: for a sample of its
users' query vectors, the exact top-10 (faiss's blocked brute force) against what serving
returns (candidates re-scored exactly, seen items left out: ``calibrated_nprobe``), for
nprobe 1, 2, 4, ... until the mean recall@10 reaches ``TARGET_RECALL``. How many cells must
be scanned depends on how clustered the factors are (one of 1024 sufficed for the serving
benchmark's topics; structureless random factors needed half of them), so a fixed fraction
either wastes time or misses the target. Without queries (a model with no trained users) an
eighth of the cells is scanned.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import faiss
import numpy as np
import scipy.sparse as sp

from recserve.algorithms.candidate_search import CANDIDATE_OVERFETCH, IndexedTopN, best_candidates
from recserve.algorithms.factor_base import FactorModel

log = logging.getLogger(__name__)

ANN_MIN_ITEMS = 50_000  # default of the ``ann_min_items`` setting
MAX_CELLS = 1024  # 4 sqrt(rows) cells up to this: k-means on more took ~12 s at 1M x 64
TRAIN_POINTS_PER_CELL = 64  # k-means sample size, faiss's recommended minimum is 39
TARGET_RECALL = 0.97  # calibrated recall@10 against exact search (DESIGN.md asks >= 0.95)
CALIBRATION_QUERIES = 256
CANDIDATE_FETCH = CANDIDATE_OVERFETCH * 10  # what serving asks the index for, for a top-10
CALIBRATION_SEEN = 20  # best items of each calibration query taken as already seen


class IvfIndex:
    """Approximate maximum-inner-product search over the servable rows of a vector table."""

    def __init__(self, index: Any, labels: np.ndarray, quantiser: Any = None):
        self._index = index
        self._labels = labels  # faiss row -> item index
        self._identity = bool(len(labels) and labels[-1] == len(labels) - 1)  # sorted, unique
        self._quantiser = quantiser  # the IVF's coarse quantiser must outlive it

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        servable: np.ndarray | None = None,
        *,
        cells: int | None = None,
        queries: np.ndarray | None = None,
        target_recall: float = TARGET_RECALL,
        probe_fraction: float = 1 / 8,
        seed: int = 0,
    ) -> IvfIndex:
        """Index the rows of ``vectors`` where ``servable`` (default: all).

        ``cells``: k-means cells (default ``4 sqrt(rows)`` up to ``MAX_CELLS``). With
        ``queries`` (rows like the ones serving will search with) ``nprobe`` is the smallest
        power of two reaching ``target_recall`` on them (see the module docstring); without,
        ``probe_fraction`` of the cells are scanned per query.
        """
        labels = np.flatnonzero(np.ones(len(vectors), bool) if servable is None else servable)
        table = np.ascontiguousarray(vectors[labels], dtype=np.float32)
        rows, dim = table.shape
        if rows == 0:
            raise ValueError("nothing to index: no servable rows")
        nlist = cells or min(MAX_CELLS, max(1, int(4 * math.sqrt(rows))))
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
        if queries is not None and len(queries):
            index.nprobe = calibrated_nprobe(index, table, queries, target_recall)
        else:
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
        if self._identity:  # every row servable: faiss rows are item indices
            return found
        missing = found < 0
        found = self._labels[found]
        found[missing] = -1
        return found


def calibrated_nprobe(index: Any, table: np.ndarray, queries: np.ndarray, target: float) -> int:
    """The smallest power-of-two ``nprobe`` (at most every cell) at which serving's top-10
    for ``queries`` reaches mean recall ``target`` against exact search over ``table``.

    Each query is served as for a user whose ``CALIBRATION_SEEN`` best items are already seen
    (a user's history items are among their best scored, and serving leaves them out): its
    exact top 10 after those, against ``CANDIDATE_FETCH`` candidates from the index re-scored
    as serving does (``factor_base.best_candidates``).
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    seen = min(CALIBRATION_SEEN, max(0, len(table) - 10))
    k = min(10, len(table) - seen)
    _, exact = faiss.knn(queries, table, seen + k, metric=faiss.METRIC_INNER_PRODUCT)
    fetch = min(len(table), max(CANDIDATE_FETCH, seen + k))
    nprobe = 1
    while True:
        index.nprobe = nprobe
        _, found = index.search(queries, fetch)
        hits = 0
        for row, candidates in enumerate(found):
            seen_rows = np.sort(exact[row, :seen])
            best, _ = best_candidates(candidates, table, queries[row], k, seen_rows)
            hits += len(np.intersect1d(best, exact[row, seen:]))
        if hits / (len(queries) * k) >= target or nprobe >= index.nlist:
            return min(nprobe, int(index.nlist))
        nprobe *= 2


def _scaled(model: object, min_items: int) -> FactorModel[Any] | None:
    """``model`` when it is a factor model with at least ``min_items`` items, some of them
    servable: the models an ANN index is worth building for."""
    if not isinstance(model, FactorModel) or model.n_items < min_items:
        return None
    return model if model.servable_items.any() else None


def _built(what: str, vectors: np.ndarray, servable: np.ndarray, queries: np.ndarray) -> IvfIndex:
    """``IvfIndex.build`` with ``nprobe`` calibrated on ``queries``, logged."""
    start = time.perf_counter()
    index = IvfIndex.build(vectors, servable, queries=queries)
    log.info(
        "ANN %s index over %d items (%d cells, nprobe %d calibrated) built in %.1f s",
        what,
        len(index),
        index.cells,
        index.nprobe,
        time.perf_counter() - start,
    )
    return index


def attach_retrieval(model: object, min_items: int = ANN_MIN_ITEMS) -> bool:
    """Give a factor or sequential model with at least ``min_items`` items an ANN candidate
    index for top-n, unless it has one.

    The engine calls it for the champions of scenarios answered by the model's own top-n.
    Returns whether an index is attached. Other families, and smaller catalogues, keep
    exact top-n.
    """
    if isinstance(model, IndexedTopN):
        return _attach_sequential(model, min_items)
    factor = _scaled(model, min_items)
    if factor is None:
        return False
    if factor.candidate_index is not None:
        return True
    vectors = factor.retrieval_vectors()
    queries = calibration_queries(factor)
    factor.attach_candidates(_built("top-n", vectors, factor.servable_items, queries))
    return True


def _attach_sequential(model: IndexedTopN, min_items: int) -> bool:
    """A sequential model's index: its item embeddings, ``nprobe`` calibrated on the last
    hidden states of a sample of its trained users (serving's queries)."""
    if model.candidate_index is not None:
        return True
    vectors = model.retrieval_vectors()
    if len(vectors) < min_items:
        return False
    queries = model.calibration_queries(CALIBRATION_QUERIES)
    model.attach_candidates(_built("top-n", vectors, np.ones(len(vectors), bool), queries))
    return True


def attach_neighbours(model: object, min_items: int = ANN_MIN_ITEMS) -> bool:
    """Give a factor model with at least ``min_items`` items an ANN index for
    ``similar_items`` (cosine: inner product over unit-length factors), unless it has one.

    The engine calls it for the champions of scenarios that ask for similar items, so a
    model served only for recommendations does not hold a second index. ``nprobe`` is
    calibrated as for recommendations, with a sample of the items themselves as queries.
    Returns whether an index is attached.
    """
    factor = _scaled(model, min_items)
    if factor is None:
        return False
    if factor.neighbour_index is not None:
        return True
    servable = np.flatnonzero(factor.servable_items)
    size = min(len(servable), CALIBRATION_QUERIES)
    sample = np.sort(np.random.default_rng(0).choice(servable, size, replace=False))
    vectors = factor.neighbour_vectors()  # 4 bytes per factor: only the 1-byte codes stay
    index = _built("similar-items", vectors, factor.servable_items, vectors[sample])
    factor.attach_neighbours(index)
    return True


def calibration_queries(model: FactorModel[Any], size: int = CALIBRATION_QUERIES) -> np.ndarray:
    """Query rows of up to ``size`` of the model's trained users (a fixed sample), as serving
    computes them (``_retrieval_queries``); empty when no user has training signal."""
    users = np.flatnonzero(model.user_support)
    if len(users) > size:
        users = np.sort(np.random.default_rng(0).choice(users, size, replace=False))
    if not len(users):
        return np.empty((0, model.retrieval_vectors().shape[1]), dtype=np.float32)
    empty = sp.csr_matrix((len(users), model.n_items), dtype=np.float32)
    queries, _ = model._retrieval_queries(users.astype(np.int64), empty)
    return np.asarray(queries, dtype=np.float32)
