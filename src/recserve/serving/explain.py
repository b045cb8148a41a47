"""Explanations: which of the user's history items (or which neighbours) led to each result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recserve.algorithms import Recommender
from recserve.algorithms.factor_base import FactorModel
from recserve.algorithms.similarity import ItemNeighbourhood

TOP_REASONS = 3
SIMILAR_DEPTH = 50  # neighbours of a result searched for history items


@dataclass(frozen=True)
class Explanation:
    """``reason``: history (item-neighbourhood contributions), similar_to_history, similar_to
    (an anchor item), pinned, popular (non-personalised); ``items``: (item_id, weight)."""

    reason: str
    items: tuple[tuple[str, float], ...] = ()


def _ids(model: Recommender[Any], indices: np.ndarray) -> list[str]:
    assert model.items is not None
    return [str(i) for i in model.items.id_of(indices)]


def neighbourhood_contributions(
    model: ItemNeighbourhood[Any], history: sp.csr_matrix, results: np.ndarray
) -> list[Explanation]:
    """Per result i, the history items h with the largest ``history[h] * similarity[h, i]``."""
    row = sp.csr_matrix(history[0])
    held, weights = row.indices, row.data
    if len(held) == 0 or len(results) == 0:
        return [Explanation("popular") for _ in results]
    block = model.similarity[held][:, results].toarray() * weights[:, None]
    names = _ids(model, held)
    out = []
    for j in range(len(results)):
        column = block[:, j]
        top = [h for h in np.argsort(-column, kind="stable")[:TOP_REASONS] if column[h] > 0]
        out.append(
            Explanation("history", tuple((names[h], float(column[h])) for h in top))
            if top
            else Explanation("popular")
        )
    return out


def factor_similarity(
    model: FactorModel[Any], history_items: np.ndarray, results: np.ndarray
) -> list[Explanation]:
    """Per result, the history items closest to it by the cosine of their factors (what the
    model's ``similar_items`` ranks by), computed for these pairs only."""
    table = model.item_factors
    a = table[results].astype(np.float64)
    b = table[history_items].astype(np.float64)
    a /= np.maximum(np.linalg.norm(a, axis=1), 1e-12)[:, None]
    b /= np.maximum(np.linalg.norm(b, axis=1), 1e-12)[:, None]
    sims = a @ b.T
    names = _ids(model, history_items)
    out = []
    for row in sims:
        top = [h for h in np.argsort(-row, kind="stable")[:TOP_REASONS] if row[h] > 0]
        out.append(
            Explanation("similar_to_history", tuple((names[h], float(row[h])) for h in top))
            if top
            else Explanation("popular")
        )
    return out


def similar_history(
    model: Recommender[Any], history_items: np.ndarray, results: np.ndarray
) -> list[Explanation]:
    """Per result, the history items among its nearest neighbours by ``model.similar_items``."""
    if len(history_items) == 0 or len(results) == 0 or not model.supports_similar_items:
        return [Explanation("popular") for _ in results]
    if isinstance(model, FactorModel):
        return factor_similarity(model, np.unique(history_items), results)
    held = set(int(h) for h in history_items)
    neighbours, scores = model.similar_items(results, SIMILAR_DEPTH)
    out = []
    for j in range(len(results)):
        hits = [
            (int(i), float(s))
            for i, s in zip(neighbours[j], scores[j], strict=True)
            if i >= 0 and int(i) in held
        ][:TOP_REASONS]
        names = _ids(model, np.array([i for i, _ in hits], dtype=np.int64))
        out.append(
            Explanation("similar_to_history", tuple(zip(names, [s for _, s in hits], strict=True)))
            if hits
            else Explanation("popular")
        )
    return out


def explain(
    model: Recommender[Any],
    history: sp.csr_matrix,
    results: np.ndarray,
    similar: Recommender[Any] | None = None,
) -> list[Explanation]:
    """Explanations for ``results`` (item indices in ``model``'s space) of one user.

    Item-neighbourhood models give their exact top contributions; others the history items
    most similar to each result, by the model itself or else by ``similar`` (the
    similar-items champion, mapped by item id); non-personalised models say "popular".
    """
    results = np.asarray(results, dtype=np.int64)
    if isinstance(model, ItemNeighbourhood):
        return neighbourhood_contributions(model, history, results)
    if not model.personalised:
        return [Explanation("popular") for _ in results]
    held = np.asarray(sp.csr_matrix(history[0]).indices, dtype=np.int64)
    if model.supports_similar_items:
        return similar_history(model, held, results)
    if similar is not None and similar.items is not None and model.items is not None:
        mapped_held = similar.items.index(model.items.id_of(held))
        mapped_results = similar.items.index(model.items.id_of(results))
        found = similar_history(similar, mapped_held[mapped_held >= 0], mapped_results)
        return [
            e if r >= 0 else Explanation("popular")
            for e, r in zip(found, mapped_results, strict=True)
        ]
    return [Explanation("popular") for _ in results]
