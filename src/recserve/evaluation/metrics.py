"""Offline metrics as pure functions over numpy arrays.

Top-N metrics take ``recommended``, an ``n_users x K`` int array of item indices, best
first, padded with ``-1``, and ``relevant``: one row per recommended row, either a sequence
of sets of item indices or a sparse matrix whose stored non-zero entries are relevant.
Relevance is binary. A repeated item in a list counts once (its first position); padding
counts as a miss, so ``precision@K`` divides by ``K`` even for shorter lists.

Users with no relevant item have no defined recall, NDCG, etc.: every accuracy metric
leaves them out of its mean (their per-user value is NaN). A mean over no users is NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from itertools import chain
from typing import TypeAlias

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

Relevant: TypeAlias = Sequence[Collection[int]] | sp.spmatrix | sp.sparray

# -- relevance -------------------------------------------------------------------------------


def relevance_matrix(relevant: Relevant, n_rows: int, n_items: int = 0) -> sp.csr_matrix:
    """``relevant`` as a binary CSR matrix (sorted indices, no explicit zeros)."""
    if sp.issparse(relevant):
        matrix = sp.csr_matrix(relevant, dtype=np.float32, copy=True)
        matrix.eliminate_zeros()
        matrix.data[:] = 1.0
    else:
        rows_of = list(relevant)
        lengths = np.fromiter((len(r) for r in rows_of), dtype=np.int64, count=len(rows_of))
        cols = np.fromiter(chain.from_iterable(rows_of), dtype=np.int64, count=int(lengths.sum()))
        if (cols < 0).any():
            raise ValueError("relevant item indices must be non-negative")
        width = max(n_items, int(cols.max()) + 1 if len(cols) else 0)
        rows = np.repeat(np.arange(len(rows_of)), lengths)
        matrix = sp.csr_matrix(
            (np.ones(len(cols), np.float32), (rows, cols)), shape=(len(rows_of), width)
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
    if matrix.shape[0] != n_rows:
        raise ValueError(f"relevant has {matrix.shape[0]} rows, recommended has {n_rows}")
    matrix.sort_indices()
    return matrix


def _as_lists(recommended: np.ndarray, k: int | None) -> np.ndarray:
    """``recommended`` as a 2-D int64 array cut (or padded with -1) to ``k`` columns."""
    rec = np.asarray(recommended, dtype=np.int64)
    if rec.ndim != 2:
        raise ValueError(f"recommended must be 2-D (users x K), got shape {rec.shape}")
    if k is None:
        return rec
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k <= rec.shape[1]:
        return rec[:, :k]
    return np.pad(rec, ((0, 0), (0, k - rec.shape[1])), constant_values=-1)


def _first_occurrence(rec: np.ndarray) -> np.ndarray:
    """True where an entry is real and not a repeat of an earlier entry of its row."""
    order = np.argsort(rec, axis=1, kind="stable")
    ordered = np.take_along_axis(rec, order, axis=1)
    repeat = np.zeros(rec.shape, dtype=bool)
    repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    first = np.empty(rec.shape, dtype=bool)
    np.put_along_axis(first, order, ~repeat, axis=1)
    return first & (rec >= 0)


def hit_matrix(
    recommended: np.ndarray, relevant: Relevant, k: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(hits, n_relevant)``: a bool ``n_users x K`` array and each user's relevant count."""
    rec = _as_lists(recommended, k)
    rel = relevance_matrix(relevant, rec.shape[0])
    n_rows, width = rel.shape
    valid = _first_occurrence(rec) & (rec < width)
    row_of = np.broadcast_to(np.arange(n_rows, dtype=np.int64)[:, None], rec.shape)
    keys = row_of[valid] * width + rec[valid]
    rel_rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(rel.indptr))
    rel_keys = rel_rows * width + rel.indices  # sorted: rows ascending, indices sorted
    hits = np.zeros(rec.shape, dtype=bool)
    if len(rel_keys):
        pos = np.minimum(np.searchsorted(rel_keys, keys), len(rel_keys) - 1)
        hits[valid] = rel_keys[pos] == keys
    return hits, np.diff(rel.indptr).astype(np.int64)


# -- accuracy per user (hits of the top k, relevant counts, k) -> values, NaN if no relevant --


def _defined(values: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    return np.where(n_relevant > 0, values, np.nan)


def _safe(n: np.ndarray) -> np.ndarray:
    return np.maximum(n, 1)


def _precision(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    return _defined(hits.sum(axis=1) / k, n_rel)


def _recall(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    """Hits over all of the user's relevant items (the usual definition; may stay below 1)."""
    return _defined(hits.sum(axis=1) / _safe(n_rel), n_rel)


def _recall_capped(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    """Hits over ``min(|relevant|, k)``, so a perfect list scores 1 even with many relevant."""
    return _defined(hits.sum(axis=1) / _safe(np.minimum(n_rel, k)), n_rel)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def _ndcg(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    discounts = _discounts(k)
    dcg = hits @ discounts
    ideal = np.cumsum(discounts)[np.clip(np.minimum(n_rel, k) - 1, 0, None)]
    return _defined(dcg / ideal, n_rel)


def _average_precision(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    """Mean of precision@i at each hit i, over ``min(|relevant|, k)``."""
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return _defined((precision_at * hits).sum(axis=1) / _safe(np.minimum(n_rel, k)), n_rel)


def _reciprocal_rank(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    any_hit = hits.any(axis=1)
    first = np.argmax(hits, axis=1)
    return _defined(np.where(any_hit, 1.0 / (first + 1), 0.0), n_rel)


def _hit_rate(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    return _defined(np.asarray(hits.any(axis=1), dtype=np.float64), n_rel)


PerUser = Callable[[np.ndarray, np.ndarray, int], np.ndarray]

ACCURACY_METRICS: dict[str, PerUser] = {
    "precision": _precision,
    "recall": _recall,
    "recall_capped": _recall_capped,
    "ndcg": _ndcg,
    "map": _average_precision,
    "mrr": _reciprocal_rank,
    "hit_rate": _hit_rate,
}


def mean_defined(values: np.ndarray) -> float:
    """The mean of the non-NaN values; NaN (without a warning) when there are none."""
    values = np.asarray(values, dtype=np.float64)
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if len(defined) else float("nan")


def per_user(
    name: str, hits: np.ndarray, n_relevant: np.ndarray, k: int | None = None
) -> np.ndarray:
    """Per-user values of accuracy metric ``name`` at ``k`` from a :func:`hit_matrix`."""
    try:
        metric = ACCURACY_METRICS[name]
    except KeyError:
        known = sorted(ACCURACY_METRICS)
        raise ValueError(f"unknown accuracy metric {name!r}; known: {known}") from None
    k = hits.shape[1] if k is None else k
    hits = hits[:, :k]
    if hits.shape[1] < k:
        hits = np.pad(hits, ((0, 0), (0, k - hits.shape[1])))
    return metric(hits.astype(np.float64), np.asarray(n_relevant), k)


def accuracy_metrics(
    recommended: np.ndarray,
    relevant: Relevant,
    ks: Iterable[int] = (10,),
    names: Iterable[str] = tuple(ACCURACY_METRICS),
) -> dict[str, float]:
    """Every accuracy metric in ``names`` at every ``k``, from one hit computation."""
    ks = sorted(set(ks))
    hits, n_rel = hit_matrix(recommended, relevant, max(ks))
    return {
        f"{name}@{k}": mean_defined(per_user(name, hits, n_rel, k)) for name in names for k in ks
    }


def precision_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Share of the K slots that hold a relevant item."""
    return _single("precision", recommended, relevant, k)


def recall_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Share of the user's relevant items found in the top K (denominator ``|relevant|``)."""
    return _single("recall", recommended, relevant, k)


def recall_capped_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Recall with denominator ``min(|relevant|, K)``: 1 is reachable for every user."""
    return _single("recall_capped", recommended, relevant, k)


def ndcg_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Binary-relevance NDCG with a log2 discount; the ideal list has ``min(|rel|, K)`` hits."""
    return _single("ndcg", recommended, relevant, k)


def map_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Mean average precision, each user's AP normalised by ``min(|relevant|, K)``."""
    return _single("map", recommended, relevant, k)


def mrr_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Mean of 1 / rank of the first relevant item (0 when none is in the top K)."""
    return _single("mrr", recommended, relevant, k)


def hit_rate_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Share of users with at least one relevant item in the top K."""
    return _single("hit_rate", recommended, relevant, k)


def _single(name: str, recommended: np.ndarray, relevant: Relevant, k: int | None) -> float:
    hits, n_rel = hit_matrix(recommended, relevant, k)
    return mean_defined(per_user(name, hits, n_rel))


# -- beyond accuracy -------------------------------------------------------------------------


def _items(recommended: np.ndarray, k: int | None, n_items: int) -> np.ndarray:
    rec = _as_lists(recommended, k)
    if (rec >= n_items).any() or (rec < -1).any():
        raise ValueError(f"recommended holds item indices outside [-1, {n_items})")
    return rec


def catalogue_coverage(recommended: np.ndarray, n_items: int, k: int | None = None) -> float:
    """Share of the catalogue recommended to at least one user."""
    if n_items <= 0:
        return float("nan")
    rec = _items(recommended, k, n_items)
    return float(len(np.unique(rec[rec >= 0])) / n_items)


def novelty(
    recommended: np.ndarray, item_counts: np.ndarray, n_users: int, k: int | None = None
) -> float:
    """Mean self-information ``-log2 p(i)`` of recommended items, ``p(i) = count_i / n_users``.

    ``item_counts`` is how many training users interacted with each item. An item nobody
    interacted with counts as one user, so the maximum is ``log2(n_users)`` bits, not infinity.
    Each user's list is averaged first, then the users (empty lists are left out).
    """
    counts = np.asarray(item_counts, dtype=np.float64)
    rec = _items(recommended, k, len(counts))
    if n_users <= 0:
        return float("nan")
    share = np.clip(np.maximum(counts, 1.0) / n_users, None, 1.0)
    bits = np.where(rec >= 0, -np.log2(share[np.clip(rec, 0, None)]), 0.0)
    length = (rec >= 0).sum(axis=1)
    return mean_defined(np.where(length > 0, bits.sum(axis=1) / np.maximum(length, 1), np.nan))


def _unit_rows(vectors: np.ndarray | sp.spmatrix | sp.sparray) -> np.ndarray | sp.csr_matrix:
    if sp.issparse(vectors):
        matrix = sp.csr_matrix(vectors, dtype=np.float64)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sp.csr_matrix(sp.diags(inverse) @ matrix)
    dense = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    return np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)


_DENSE_LIMIT = 8_000_000  # floats: below this, sparse item vectors are made dense


def _list_similarities(unit: np.ndarray | sp.csr_matrix, lists: np.ndarray) -> np.ndarray:
    """``n_lists x K x K`` cosines between the items of each list (``lists`` holds rows of
    ``unit``; every entry must be valid)."""
    n_lists, k = lists.shape
    width = max(unit.shape[1], 1)
    out = np.empty((n_lists, k, k))
    if sp.issparse(unit):  # one sparse product per block of lists, keep the diagonal blocks
        step = max(1, 512 // k)
        for start in range(0, n_lists, step):
            block = lists[start : start + step]
            x = unit[block.ravel()]
            product = (x @ x.T).toarray().reshape(len(block), k, len(block), k)
            out[start : start + step] = product[np.arange(len(block)), :, np.arange(len(block))]
        return out
    step = max(1, 4_000_000 // (k * width))
    for start in range(0, n_lists, step):
        x = unit[lists[start : start + step]]
        out[start : start + step] = np.matmul(x, x.transpose(0, 2, 1))
    return out


def intra_list_diversity(
    recommended: np.ndarray,
    item_vectors: np.ndarray | sp.spmatrix | sp.sparray,
    k: int | None = None,
) -> float:
    """Mean pairwise ``1 - cosine`` between the items of each list, averaged over users.

    ``item_vectors`` has one row per item: content features, embeddings, or the item
    columns of the user-item matrix (``positive_matrix().T``). A zero row has cosine 0 to
    everything. With non-negative vectors the value lies in [0, 1]. Lists with fewer than
    two items have no pairs and are left out.
    """
    rec = _items(recommended, k, item_vectors.shape[0])
    items = np.unique(rec[rec >= 0])
    local = np.clip(np.searchsorted(items, rec), 0, max(len(items) - 1, 0))
    unit = _unit_rows(item_vectors[items] if len(items) else item_vectors[:0])
    if isinstance(unit, sp.csr_matrix) and unit.shape[0] * unit.shape[1] <= _DENSE_LIMIT:
        unit = unit.toarray()
    valid = rec >= 0
    pairs = valid[:, :, None] & valid[:, None, :] & ~np.eye(rec.shape[1], dtype=bool)
    n_pairs = pairs.sum(axis=(1, 2))
    total = np.zeros(len(rec))
    if len(rec) and rec.shape[1] > 1 and len(items):
        distance = 1.0 - _list_similarities(unit, local)
        total = np.where(pairs, distance, 0.0).sum(axis=(1, 2))
    return mean_defined(np.where(n_pairs > 0, total / np.maximum(n_pairs, 1), np.nan))


# -- rating prediction -----------------------------------------------------------------------


def _pair(predicted: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=np.float64).ravel()
    a = np.asarray(actual, dtype=np.float64).ravel()
    if p.shape != a.shape:
        raise ValueError(f"predicted and actual differ in length: {p.shape} vs {a.shape}")
    return p, a


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error; NaN for no ratings."""
    p, a = _pair(predicted, actual)
    return float(np.sqrt(np.mean((p - a) ** 2))) if len(p) else float("nan")


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error; NaN for no ratings."""
    p, a = _pair(predicted, actual)
    return float(np.mean(np.abs(p - a))) if len(p) else float("nan")


# -- click-through prediction ----------------------------------------------------------------


def _labels(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s, y = _pair(scores, labels)
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    return y.astype(bool), s


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC: the chance a random positive outscores a random negative (ties count half).

    NaN when only one class is present.
    """
    y, s = _labels(labels, scores)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)  # average ranks: ties count half
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-15) -> float:
    """Mean binary cross-entropy, probabilities clipped to ``[eps, 1 - eps]``."""
    y, p = _labels(labels, probabilities)
    if not len(y):
        return float("nan")
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))
