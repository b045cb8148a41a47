"""Hybrid item search: lexical and semantic hits fused by rank, filtered like a list, and
ordered by a user's taste on request.

Reciprocal rank fusion (``1 / (k + rank)`` summed over the lists an item is in) needs no
score calibration between BM25 and cosine: an item both searches rank high comes first,
an item only one finds still appears. With a user, the recommended champion's order of the
candidates (``engine.rank``) is fused in as a third list, so the answer stays about the
query while leaning to what this user likes; ``by_taste`` instead orders the most relevant
candidates by taste alone, for "recommendations about X".

Category and attribute filters are evaluated with the recommendation filters
(``serving.filters``) over the candidates' rows, read in one query; hidden items never
come back from either search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recserve.data import Vocabulary
from recserve.serving.catalogue import ItemCatalogue
from recserve.serving.engine import ServingEngine
from recserve.serving.filters import Node, evaluate
from recserve.serving.semantic import SemanticIndex
from recserve.serving.served import ModelNotReady
from recserve.store import Store

RRF_K = 60  # the constant of Cormack et al. (2009); damps the head of each list
MIN_DEPTH = 100  # candidates taken from each search, at least
MEANING_FLOOR = 0.2  # MiniLM cosines of unrelated short texts are mostly below this
MEANING_SHARE = 0.6


@dataclass
class SearchHit:
    item_id: str
    score: float
    lexical_rank: int | None = None  # 1-based
    semantic_rank: int | None = None
    taste_rank: int | None = None
    row: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class SearchResult:
    hits: list[SearchHit]
    semantic: str  # SemanticIndex.status
    personalised_by: str | None = None  # the model whose taste ordered the hits


def fuse(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal rank fusion: each id's ``sum(1 / (k + rank))`` over the lists it is in."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item_id in enumerate(ranking, start=1):
            scores[item_id] = scores.get(item_id, 0.0) + 1.0 / (k + rank)
    return scores


def relevant_by_meaning(hits: list[tuple[str, float]]) -> list[str]:
    """Semantic hits close enough to count: cosine at least ``MEANING_FLOOR`` and at least
    ``MEANING_SHARE`` of the best hit's. A nearest neighbour always exists, relevant or
    not; without this every item would be "about" every query in a small catalogue."""
    if not hits:
        return []
    floor = max(MEANING_FLOOR, MEANING_SHARE * hits[0][1])
    return [item_id for item_id, cosine in hits if cosine >= floor]


class CatalogueSearch:
    """``search(query, n, ...)`` over the store's text index and the semantic index."""

    def __init__(self, store: Store, semantic: SemanticIndex, engine: ServingEngine):
        self.store = store
        self.semantic = semantic
        self.engine = engine

    def search(
        self,
        query: str,
        n: int,
        *,
        category: str | None = None,
        where: Node | None = None,
        user_id: str | None = None,
        by_taste: bool = False,
        exclude: Sequence[str] = (),
        mode: str = "hybrid",
    ) -> SearchResult:
        """``mode``: ``hybrid`` (both, fused), ``words`` or ``meaning`` (one search only)."""
        depth = max(MIN_DEPTH, 5 * n)
        lexical, semantic = [], []
        if mode != "meaning":
            lexical = [i for i, _ in self.store.text_search.search(query, depth)]
        if mode != "words":
            semantic = relevant_by_meaning(self.semantic.search(query, depth))
        relevance = fuse([lexical, semantic])
        rows = self.store.items.get_many(list(relevance))
        left_out = set(exclude)
        candidates = [
            i for i in relevance if i in rows and not rows[i]["hidden"] and i not in left_out
        ]
        candidates = self._filtered(candidates, rows, category, where)
        word_rank = {i: r for r, i in enumerate(lexical, start=1)}
        no_word = len(lexical) + 1
        # equal fused scores: the item that matched the words first
        candidates.sort(key=lambda i: (-relevance[i], word_rank.get(i, no_word), i))
        taste, model = self._taste(user_id, candidates if by_taste else candidates[:depth])
        ranks = {
            "lexical": word_rank,
            "semantic": {i: r for r, i in enumerate(semantic, start=1)},
            "taste": {i: r for r, i in enumerate(taste, start=1)},
        }
        if by_taste and taste:
            head = candidates[: 3 * n]  # the most relevant
            in_head = set(head)
            order = [i for i in taste if i in in_head]
            placed = set(order)
            order += [i for i in head if i not in placed]
            final = {i: 1.0 / (RRF_K + r) for r, i in enumerate(order, start=1)}
        elif taste:
            final = fuse([lexical, semantic, taste])
            order = sorted(candidates, key=lambda i: (-final[i], word_rank.get(i, no_word), i))
        else:
            final, order = relevance, candidates
        hits = [
            SearchHit(
                item_id=i,
                score=round(final[i], 6),
                lexical_rank=ranks["lexical"].get(i),
                semantic_rank=ranks["semantic"].get(i),
                taste_rank=ranks["taste"].get(i),
                row=rows[i],
            )
            for i in order[:n]
        ]
        return SearchResult(hits, self.semantic.status, model)

    @staticmethod
    def _filtered(
        candidates: list[str],
        rows: dict[str, dict[str, Any]],
        category: str | None,
        where: Node | None,
    ) -> list[str]:
        if not candidates or (category is None and where is None):
            return candidates
        catalogue = ItemCatalogue(Vocabulary(candidates), {i: rows[i] for i in candidates})
        keep = np.ones(len(candidates), dtype=bool)
        if category is not None:
            keep &= catalogue.category_mask(category)
        if where is not None:
            keep &= evaluate(where, catalogue)
        return [i for i, ok in zip(candidates, keep, strict=True) if ok]

    def _taste(self, user_id: str | None, candidates: list[str]) -> tuple[list[str], str | None]:
        """The user's order of the candidates by the recommended champion (known items only)."""
        if user_id is None or not candidates:
            return [], None
        try:
            ranked = self.engine.rank(user_id, candidates)
        except ModelNotReady:
            return [], None
        known = [i for i, s in zip(ranked.item_ids, ranked.scores, strict=True) if s is not None]
        return known, ranked.model
