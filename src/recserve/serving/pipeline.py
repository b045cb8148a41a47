"""The request path after the model: filters as one set of allowed items, candidates,
diversity, pinned slots and the page.

Every scenario that returns items feeds its candidate source through ``run``: the source
gets the allowed items (``allowed.py``) and a depth and returns the best allowed items, so
pagination, filters and rules behave the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recserve.algorithms import Recommender
from recserve.algorithms.base import top_n
from recserve.algorithms.similarity import ItemNeighbourhood
from recserve.data import Vocabulary
from recserve.serving import reasons
from recserve.serving.allowed import Allowed, BlockedItems
from recserve.serving.catalogue import ItemCatalogue
from recserve.serving.diversity import mmr
from recserve.serving.filters import evaluate
from recserve.serving.history import csr_row
from recserve.serving.options import ListOptions

# (allowed items, depth) -> (item indices, scores), best first, -1 padded
Source = Callable[[Allowed, int], tuple[np.ndarray, np.ndarray]]
Catalogue = Callable[[], ItemCatalogue]  # the model's catalogue, built on first call
DIVERSITY_POOL = 3  # candidates per result considered by the re-ranker
DENSE_ABOVE = 2000  # items left out of a request past which every item is scored at once


@dataclass(frozen=True)
class Ranked:
    """A ranked list in one model's item space, before pins (which may add outside ids)."""

    indices: np.ndarray
    scores: np.ndarray
    reason: str | None = None  # why fewer than asked: ``reasons.FILTERED`` or ``NO_MORE_ITEMS``


def allowed_items(
    blocked: BlockedItems,
    items: Vocabulary,
    catalogue: Catalogue,
    options: ListOptions,
    seen: sp.csr_matrix | None = None,
) -> Allowed:
    """The items the request may return: not blocked, not seen, through every filter.
    The catalogue is only built (``catalogue()``) when a category or filter asks for it."""
    parts = [blocked.indices]
    if options.exclude_seen and seen is not None and seen.nnz:
        parts.append(
            seen.indices if isinstance(seen, sp.csr_matrix) else sp.csr_matrix(seen).indices
        )
    if options.exclude:
        parts.append(items.index(options.exclude))
    allowed = Allowed.all_but(len(blocked), *parts)
    if options.category is not None:
        allowed = allowed.narrowed(catalogue().category_mask(options.category))
    if options.filter is not None:
        allowed = allowed.narrowed(evaluate(options.filter, catalogue()))
    if options.include:
        keep = items.index(options.include)
        allow = np.zeros(len(blocked), dtype=bool)
        allow[keep[keep >= 0]] = True
        allowed = allowed.narrowed(allow)
    return allowed


def exclusion_row(allowed: Allowed) -> sp.csr_matrix:
    """The items ``allowed`` leaves out as a 1 x items CSR row (the models' ``exclude``)."""
    drop = allowed.dropped()
    return csr_row(drop.astype(np.int32), np.ones(len(drop), np.float32), allowed.size)


def model_source(
    model: Recommender[Any],
    users: np.ndarray,
    history: sp.csr_matrix | None,
    sequences: list[np.ndarray] | None = None,
) -> Source:
    """Top items of ``model`` for one user. With few items left out the model's own top-n
    (candidate index included) takes an exclusion row; past ``DENSE_ABOVE`` left out (a
    category or attribute filter) it is cheaper to score every item once and mask."""

    def source(allowed: Allowed, depth: int) -> tuple[np.ndarray, np.ndarray]:
        if len(allowed.dropped()) > DENSE_ABOVE:
            scores = model.score(users, history, sequences)[0]
            return from_scores(scores, allowed, depth)
        exclude = exclusion_row(allowed)
        ids, scores = model.recommend(users, history, depth, exclude, sequences)
        return ids[0], scores[0]

    return source


def from_scores(scores: np.ndarray, allowed: Allowed, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``depth`` allowed items of one dense score row."""
    if allowed.narrow:
        masked = np.where(allowed.mask(), scores, -np.inf).astype(np.float32)
    else:
        masked = scores.astype(np.float32)  # a copy
        masked[allowed.dropped()] = -np.inf
    ids, top = top_n(masked[None, :], depth)
    return ids[0], top[0]


def ranking_source(
    order: np.ndarray, scores_at: Callable[[np.ndarray], np.ndarray], changed: np.ndarray
) -> Source:
    """Top items of a global ranking (popular, trending, latest) whose scores differ from
    the trained ``order`` only at the ``changed`` items (live votes since training).

    The answer lies within the best ``depth + left out + changed`` items of ``order`` plus
    ``changed``: each allowed unchanged item among them keeps its trained score, which no
    unchanged item further down beats. So a request at 1M items re-scores a few dozen
    items (``scores_at(indices)``) where a sort of every score took ~6 ms; a request that
    leaves out most of the catalogue (a category) scores every item once instead.
    """

    def source(allowed: Allowed, depth: int) -> tuple[np.ndarray, np.ndarray]:
        drop = allowed.dropped()
        reach = depth + len(drop) + len(changed)
        if len(drop) > DENSE_ABOVE or reach * 4 > allowed.size:
            return from_scores(scores_at(np.arange(allowed.size)), allowed, depth)
        candidates = np.union1d(order[:reach], changed)
        values = np.asarray(scores_at(candidates), dtype=np.float32)
        values[~allowed.contains(candidates)] = -np.inf
        picked, top = top_n(values[None, :], depth)
        ids = np.where(picked[0] >= 0, candidates[picked[0].clip(min=0)], -1)
        return ids, top[0]

    return source


def filtered_neighbours(
    neighbours: Callable[[int], tuple[np.ndarray, np.ndarray]], allowed: Allowed, depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``depth`` allowed items of a neighbour search that cannot take a filter:
    asks for enough extra neighbours to cover every disallowed item."""
    k = min(allowed.size, depth + len(allowed.dropped()))
    ids, scores = neighbours(k)
    ok = ids >= 0
    ok[ok] = allowed.contains(ids[ok])
    return ids[ok][:depth], scores[ok][:depth]


def item_similarity(model: Recommender[Any], catalogue: Catalogue, items: np.ndarray) -> np.ndarray:
    """Pairwise similarity of ``items`` for diversity: shared categories when the items have
    any, else the model's own item similarity (neighbourhood matrix or factor cosine)."""
    categories = catalogue().categories()[items]
    if categories.nnz:
        return np.asarray((categories @ categories.T).toarray(), dtype=np.float64)
    if isinstance(model, ItemNeighbourhood):
        block = model.similarity[items][:, items].toarray()
        return np.maximum(block, block.T).astype(np.float64)
    factors = getattr(model, "item_factors", None)
    if isinstance(factors, np.ndarray):
        rows = factors[items].astype(np.float64)
        norms = np.linalg.norm(rows, axis=1)
        norms[norms == 0] = 1.0
        rows /= norms[:, None]
        return rows @ rows.T
    return np.zeros((len(items), len(items)))


def run(
    source: Source,
    model: Recommender[Any],
    catalogue: Catalogue,
    allowed: Allowed,
    options: ListOptions,
    unfiltered: Allowed | None = None,
) -> Ranked:
    """Candidates, then diversity; the caller applies pins and cuts the page. A short list
    says why (``shortfall``); ``unfiltered`` is what the scenario allows before the request's
    filters (default: every item; similar items: every item but the anchor)."""
    depth = options.depth
    pool = depth
    if options.diversity > 0:
        pool = min(allowed.size, max(DIVERSITY_POOL * depth, depth + 20))
    ids, scores = source(allowed, pool)
    valid = ids >= 0
    ids, scores = ids[valid], scores[valid]
    if options.diversity > 0 and len(ids) > 1:
        order = mmr(scores, item_similarity(model, catalogue, ids), depth, options.diversity)
        ids, scores = ids[order], scores[order]
    reason = None
    if len(ids) < depth:
        reason = shortfall(source, allowed, unfiltered, len(ids), depth)
    return Ranked(ids[:depth], scores[:depth], reason)


def shortfall(
    source: Source, allowed: Allowed, unfiltered: Allowed | None, found: int, depth: int
) -> str:
    """Why ``source`` gave ``found`` < ``depth`` items: the same source without the
    request's filters finds more (filters, exclusions, seen or hidden items left them out),
    or it has no more to give. Asked only for short lists, so a full one costs nothing."""
    baseline = unfiltered if unfiltered is not None else Allowed.all_but(allowed.size)
    if len(allowed.dropped()) > len(baseline.dropped()):
        ids, _ = source(baseline, depth)
        if int((ids >= 0).sum()) > found:
            return reasons.FILTERED
    return reasons.NO_MORE_ITEMS
