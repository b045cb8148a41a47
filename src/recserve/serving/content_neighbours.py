"""Similar items for an item the similar-items champion never saw (created after its
training, or a champion that cannot place new items, such as item_knn or ALS), from the
item's content.

A TF-IDF model (``algorithms.content.TfidfContent``) is fitted on the documents (title,
categories, tags, text) of the champion's own items, read from the store the first time a
new item asks for neighbours, and kept while that item space is served. The new item's
document is encoded in that fitted space and compared with the catalogue by cosine, so its
neighbours are indices of the champion's items and go through the same request path
(filters, diversity, pins, paging) as any similar-items answer. Only items sharing a term
with the new one are listed (cosine > 0).

Cost: one read of the catalogue's rows and a TF-IDF fit per served item space, then every
item scored per request: at 100k items a 6.3 s fit, 7 MB of vectors, 51 ms per request
(docs/scenarios.md, "Before the first training and new items").
"""

from __future__ import annotations

import threading

import numpy as np

from recserve.algorithms.content import TfidfContent
from recserve.data import Dataset, ItemFeatures, Vocabulary
from recserve.data.dataset import ITEM_FEATURE_COLUMNS
from recserve.store import Store

MODEL_NAME = "content_similarity"  # the ``model`` of an answer given from content


def document_of(store: Store, item_id: str) -> str:
    """The item's content as one text ("" when it has none, or no longer exists)."""
    row = store.items.get(item_id)
    if row is None:
        return ""
    return ItemFeatures.from_rows(Vocabulary([item_id]), {item_id: row}).document(0)


def fit_catalogue(store: Store, items: Vocabulary) -> TfidfContent:
    """A TF-IDF content model over ``items`` (their stored documents), no events needed."""
    wanted = set(items.ids)
    rows = {
        item_id: row
        for item_id, row in store.items.all_rows(ITEM_FEATURE_COLUMNS).items()
        if item_id in wanted
    }
    empty = np.empty(0, dtype=object)
    catalogue = Dataset.from_events(
        empty, empty, empty, np.empty(0), np.empty(0), {},
        users=Vocabulary([]), items=items, item_rows=rows,
    )  # fmt: skip
    return TfidfContent().fit(catalogue)


class ContentNeighbours:
    """The content model of each served item space, fitted on first use and kept while that
    space is served (``keep`` drops the others)."""

    def __init__(self, store: Store):
        self.store = store
        self._models: dict[int, tuple[Vocabulary, TfidfContent]] = {}
        self._lock = threading.Lock()

    def model_for(self, items: Vocabulary) -> TfidfContent:
        held = self._models.get(id(items))
        if held is not None and held[0] is items:
            return held[1]
        with self._lock:  # one fit per item space, however many requests ask at once
            held = self._models.get(id(items))
            if held is None or held[0] is not items:
                held = (items, fit_catalogue(self.store, items))
                self._models = {**self._models, id(items): held}
        return held[1]

    def neighbours(self, items: Vocabulary, document: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items of ``items`` closest to ``document``, best first, -1 padded; only
        items that share a term with it."""
        ids, scores = self.model_for(items).similar_to_documents([document], k)
        ids, scores = ids[0], scores[0]
        unrelated = ~(scores > 0)
        ids[unrelated], scores[unrelated] = -1, -np.inf
        return ids, scores

    def keep(self, spaces: list[Vocabulary]) -> None:
        """Forget the models of item spaces no longer served."""
        wanted = {id(v) for v in spaces}
        with self._lock:
            self._models = {k: v for k, v in self._models.items() if k in wanted}
