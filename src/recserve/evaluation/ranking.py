"""Top-k lists for evaluation at catalogue scale: bounded batches, sparse exclusions,
``argpartition`` instead of a full sort, and a seeded sample of the users to rank for.

Ranking every test user over a 1M-item catalogue costs users x items, and the old path
held ``batch_size x n_items`` scores plus copies. Here a batch holds at most
``memory_bytes`` of scores (``rows_per_batch``), seen items are set to ``-inf`` through the
CSR indices of the batch (no dense users x items mask), and each list is cut by
``np.argpartition``. Ties are broken by the lower item index, exactly as a stable full
sort (``np.argsort(-scores, kind="stable")``) would, so a sampled or batched run is
reproducible to the item. Where a family has its own retrieval the candidates come from it,
with the same lists as the dense path: non-personalised models rank from their global
order (only the first ``n + (most seen items of a user)`` items are looked at), and item
neighbourhoods from their sparse scores (only the items a neighbour reaches).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recserve.algorithms import Recommender
from recserve.algorithms.base import top_n
from recserve.algorithms.global_ranking import GlobalRanking
from recserve.algorithms.similarity import ItemNeighbourhood

DEFAULT_EVAL_USERS = 2_000  # users a training job ranks for (a seeded sample above this)
DEFAULT_SAMPLE_SEED = 0
EVAL_MEMORY_BYTES = 256 * 1024**2  # scores held per batch (float32)


def sample_rows(n_rows: int, max_rows: int | None, seed: int) -> np.ndarray:
    """Sorted row positions of a seeded sample of ``max_rows`` of ``n_rows`` (all when the
    sample would cover them)."""
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"max_users must be positive, got {max_rows}")
    if max_rows is None or max_rows >= n_rows:
        return np.arange(n_rows)
    chosen = np.random.default_rng(seed).choice(n_rows, max_rows, replace=False)
    return np.sort(chosen)


def rows_per_batch(n_items: int, batch_size: int, memory_bytes: int = EVAL_MEMORY_BYTES) -> int:
    """How many users to score at once: ``batch_size``, fewer when their float32 scores
    over ``n_items`` would pass ``memory_bytes``; at least one."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return max(1, min(batch_size, memory_bytes // (4 * max(n_items, 1))))


def exclude_sparse(scores: np.ndarray, exclude: sp.csr_matrix | None) -> None:
    """Set ``scores[r, j] = -inf`` for every stored entry ``(r, j)`` of ``exclude``, in place."""
    if exclude is None or exclude.nnz == 0:
        return
    rows = np.repeat(np.arange(exclude.shape[0]), np.diff(exclude.indptr))
    scores[rows, exclude.indices] = -np.inf


def _global_lists(
    model: GlobalRanking[Any], n: int, exclude: sp.csr_matrix | None, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-n of a non-personalised model from its own order: the first ``n + most seen``
    items are the only candidates any row can need."""
    order, scores = model.order, model.scores
    most_seen = 0 if exclude is None else int(np.diff(exclude.indptr).max(initial=0))
    candidates = order[: n + most_seen]
    candidate_scores = np.broadcast_to(
        np.asarray(scores[candidates], dtype=np.float32), (n_rows, len(candidates))
    ).copy()
    if exclude is not None and exclude.nnz:
        position = np.full(len(scores), -1, dtype=np.int64)
        position[candidates] = np.arange(len(candidates))
        rows = np.repeat(np.arange(n_rows), np.diff(exclude.indptr))
        at = position[exclude.indices]
        candidate_scores[rows[at >= 0], at[at >= 0]] = -np.inf
    local, top = top_n(candidate_scores, n)  # candidates are in the model's order already
    ids = np.where(local >= 0, candidates[np.clip(local, 0, None)], -1)
    return ids, top


def _sparse_row_top(
    cols: np.ndarray, values: np.ndarray, excluded: np.ndarray, n: int, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-n of one row whose unstored entries score 0: the stored non-zero entries, plus
    the lowest-index zeros (the first items neither stored non-zero nor excluded)."""
    allowed = ~np.isin(cols, excluded)
    cols, values = cols[allowed], values[allowed]
    nonzero = values != 0
    cols, values = cols[nonzero], values[nonzero]
    blocked = np.union1d(cols, excluded)
    zeros = np.setdiff1d(np.arange(min(n + len(blocked), n_items)), blocked)[:n]
    cols = np.concatenate([cols, zeros])
    values = np.concatenate([values, np.zeros(len(zeros), dtype=values.dtype)])
    order = np.lexsort((cols, -values))[:n]
    return cols[order], values[order]


def sparse_top_k(
    scores: sp.csr_matrix, n: int, exclude: sp.csr_matrix | None, signal: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_n` of ``scores.toarray()`` with ``exclude`` and rows without ``signal``
    at ``-inf``, computed from the stored entries only."""
    n_rows, n_items = scores.shape
    ids = np.full((n_rows, n), -1, dtype=np.int64)
    top = np.full((n_rows, n), -np.inf, dtype=np.float32)
    empty = np.empty(0, dtype=np.int64)
    for row in np.flatnonzero(signal):
        stored = slice(scores.indptr[row], scores.indptr[row + 1])
        excluded = (
            empty
            if exclude is None
            else exclude.indices[exclude.indptr[row] : exclude.indptr[row + 1]]
        )
        cols, values = _sparse_row_top(
            scores.indices[stored], scores.data[stored], excluded, n, n_items
        )
        ids[row, : len(cols)], top[row, : len(cols)] = cols, values
    return ids, top


def recommend_batch(
    model: Recommender[Any],
    users: np.ndarray,
    history: sp.csr_matrix | None,
    n: int,
    exclude: sp.csr_matrix | None,
) -> tuple[np.ndarray, np.ndarray]:
    """What ``model.recommend`` returns with its exact scores (no ANN index), computed with
    sparse exclusions and a deterministic ``argpartition`` top-n."""
    if isinstance(model, GlobalRanking):
        return _global_lists(model, n, exclude, len(users))
    if isinstance(model, ItemNeighbourhood):
        signal = model.has_signal(users, history)
        return sparse_top_k(model.sparse_scores(users, history), n, exclude, signal)
    scores = np.array(model.score(users, history), dtype=np.float32)
    exclude_sparse(scores, exclude)
    scores[~model.has_signal(users, history)] = -np.inf
    return top_n(scores, n)
