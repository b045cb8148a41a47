"""Semantic item search: MiniLM vectors of every item's document, searched by cosine.

Lexical search (``store.text_search``) finds the words a user typed; this finds what they
meant ("a film about a shark" finds *Jaws*). Each item's document is the one content
models use (title, categories, tags, text). Vectors are encoded in a background thread
(``refresh``), never on a request: until the first pass ends ``ready`` is False and search
answers lexically. Later passes re-encode only items whose ``updated_at`` moved, so a new
or edited item is found by meaning a few seconds after it was written. The vectors are
cached on disk (``cache_path``), so a restart re-encodes nothing that did not change.

Above ``ann_min_items`` the search goes through a faiss HNSW index (inner product over
unit vectors = cosine), rebuilt in the background after a change; below, an exact product.
A catalogue larger than ``max_items`` is not encoded at all (MiniLM on a CPU encodes a few
hundred documents a second): search stays lexical and says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recserve.data.dataset import item_document
from recserve.store import Store

log = logging.getLogger(__name__)

DOCUMENT_COLUMNS = ("title", "text", "categories", "tags", "updated_at")
Encoder = Callable[[Sequence[str]], np.ndarray]


def document(row: dict[str, Any]) -> str:
    """A store row's text for the encoder (``item_document``, as content models read it)."""
    return item_document(
        row.get("title"), row.get("categories") or [], row.get("tags") or [], row.get("text")
    )


@dataclass(frozen=True)
class Vectors:
    """One consistent state: ids, their ``updated_at`` and unit vectors (rows aligned)."""

    ids: np.ndarray  # str
    updated: np.ndarray  # float64
    vectors: np.ndarray  # float32, n x d, unit rows (zero rows for items without text)
    ann: Any = None  # faiss index over ``vectors`` above ann_min_items, else None


class SemanticIndex:
    """``search(text, limit)`` over MiniLM item vectors kept fresh by ``refresh``."""

    def __init__(
        self,
        store: Store,
        *,
        cache_path: Path | None,
        ann_min_items: int,
        max_items: int,
        refresh_seconds: float = 5.0,
        encoder: Encoder | None = None,
    ):
        self.store = store
        self.cache_path = cache_path
        self.ann_min_items = ann_min_items
        self.max_items = max_items
        self.refresh_seconds = refresh_seconds
        self._encode = encoder
        self._state: Vectors | None = None
        self._lock = threading.Lock()  # one refresh at a time
        self._refreshed_at = 0.0
        self.too_large = False
        self._load_cache()

    # state ----------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._state is not None

    @property
    def status(self) -> str:
        """``ready``, ``building`` (first pass not done) or ``off`` (catalogue too large)."""
        if self.too_large:
            return "off"
        return "ready" if self.ready else "building"

    def encoder(self) -> Encoder:
        if self._encode is None:
            from recserve.algorithms.text_embedding import encode

            self._encode = encode
        return self._encode

    # searching ------------------------------------------------------------------------------

    def search(self, text: str, limit: int) -> list[tuple[str, float]]:
        """Up to ``limit`` (item_id, cosine) pairs, best first; empty until ready. Starts a
        background refresh when the vectors are older than ``refresh_seconds``."""
        self.refresh_soon()
        state = self._state
        if state is None or not len(state.ids) or not text.strip() or limit <= 0:
            return []
        query = self.encoder()([text])[0].astype(np.float32)
        limit = min(limit, len(state.ids))
        if state.ann is not None:
            scores, rows = state.ann.search(query[None, :], limit)
            pairs = [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
        else:
            sims = state.vectors @ query
            top = np.argpartition(-sims, limit - 1)[:limit]
            top = top[np.lexsort((top, -sims[top]))]
            pairs = [(int(r), float(sims[r])) for r in top]
        return [(str(state.ids[r]), s) for r, s in pairs if s > 0]

    # keeping fresh --------------------------------------------------------------------------

    def refresh_soon(self) -> None:
        """A background refresh if the last one is older than ``refresh_seconds``."""
        if self.too_large or time.monotonic() - self._refreshed_at < self.refresh_seconds:
            return
        if self._lock.locked():
            return
        self._refreshed_at = time.monotonic()
        threading.Thread(target=self.refresh, name="semantic-refresh", daemon=True).start()

    def refresh(self) -> int:
        """Encode new and changed items, drop deleted ones; returns how many were encoded."""
        with self._lock:
            try:
                return self._refresh()
            except Exception:  # a failed pass keeps the last state; the next one retries
                log.exception("semantic search index refresh failed")
                return 0
            finally:
                self._refreshed_at = time.monotonic()

    def _refresh(self) -> int:
        if self.store.items.count() > self.max_items:
            self.too_large = True
            log.warning("semantic search is off: more than %d items", self.max_items)
            return 0
        self.too_large = False
        rows = self._rows()
        old = self._state
        previous: dict[str, tuple[float, int]] = {}  # item_id -> (updated_at, row in old)
        if old is not None:
            previous = {
                str(item_id): (float(updated), row)
                for row, (item_id, updated) in enumerate(zip(old.ids, old.updated, strict=True))
            }
        ids = np.array([r["item_id"] for r in rows], dtype=object)
        updated = np.array([r["updated_at"] for r in rows], dtype=np.float64)
        stale = [
            k
            for k, r in enumerate(rows)
            if previous.get(r["item_id"], (None,))[0] != r["updated_at"]
        ]
        if old is not None and not stale and len(rows) == len(old.ids):
            return 0
        fresh = self.encoder()([document(rows[k]) for k in stale]) if stale else None
        dim = fresh.shape[1] if fresh is not None else old.vectors.shape[1] if old else 0
        vectors = np.zeros((len(rows), dim), dtype=np.float32)
        stale_rows = set(stale)
        kept = [(k, previous[r["item_id"]][1]) for k, r in enumerate(rows) if k not in stale_rows]
        if old is not None and kept and dim == old.vectors.shape[1]:
            new_rows, old_rows = (np.array(x) for x in zip(*kept, strict=True))
            vectors[new_rows] = old.vectors[old_rows]
        if fresh is not None:
            vectors[np.array(stale)] = fresh
        no_text = np.array([not document(r) for r in rows], dtype=bool)
        vectors[no_text] = 0.0
        state = Vectors(ids.astype(str), updated, vectors, self._ann(vectors))
        self._state = state
        self._save_cache(state)
        log.info("semantic search: %d items, %d encoded", len(rows), len(stale))
        return len(stale)

    def _rows(self) -> list[dict[str, Any]]:
        """Every item's id, text fields and ``updated_at``, in one streamed query."""
        return list(self.store.items.all_rows(DOCUMENT_COLUMNS).values())

    def _ann(self, vectors: np.ndarray) -> Any:
        if len(vectors) < self.ann_min_items or not len(vectors):
            return None
        import faiss

        index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
        index.add(vectors)
        return index

    # disk cache -----------------------------------------------------------------------------

    def _load_cache(self) -> None:
        if self.cache_path is None or not self.cache_path.is_file():
            return
        try:
            with np.load(self.cache_path, allow_pickle=False) as saved:
                ids, updated, vectors = saved["ids"], saved["updated"], saved["vectors"]
            self._state = Vectors(ids, updated, vectors, self._ann(vectors))
        except (OSError, KeyError, ValueError):
            log.warning("ignoring an unreadable semantic search cache at %s", self.cache_path)

    def _save_cache(self, state: Vectors) -> None:
        if self.cache_path is None:
            return
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.cache_path.with_suffix(".partial.npz")
        np.savez(partial, ids=state.ids, updated=state.updated, vectors=state.vectors)
        partial.replace(self.cache_path)
