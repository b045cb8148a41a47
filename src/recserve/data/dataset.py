"""The training snapshot every model fits on: events in internal indices plus item features.

A ``Dataset`` keeps its vocabularies when it is split (``subset``), so train and test
parts index the same users and items and metrics compare like with like.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recserve.config import FeedbackKind, FeedbackType
from recserve.data.vocab import Vocabulary

if TYPE_CHECKING:
    from recserve.store import Store

POSITIVE, READ, NEGATIVE = np.int8(1), np.int8(0), np.int8(-1)
_KIND_CODE = {
    FeedbackKind.POSITIVE: POSITIVE,
    FeedbackKind.NEGATIVE: NEGATIVE,
    FeedbackKind.READ: READ,
}


# the item columns ItemFeatures reads: a snapshot decodes no other (attributes stay unread)
ITEM_FEATURE_COLUMNS = ("title", "text", "categories", "tags", "published_at", "hidden")


@dataclass(frozen=True)
class ItemFeatures:
    """Catalogue fields aligned with the item vocabulary (missing items have empty fields)."""

    titles: list[str]
    texts: list[str]
    categories: list[list[str]]
    tags: list[list[str]]
    published_at: np.ndarray  # float64, NaN where unknown
    hidden: np.ndarray  # bool

    @classmethod
    def empty(cls, n_items: int) -> ItemFeatures:
        return cls(
            titles=[""] * n_items,
            texts=[""] * n_items,
            categories=[[] for _ in range(n_items)],
            tags=[[] for _ in range(n_items)],
            published_at=np.full(n_items, np.nan),
            hidden=np.zeros(n_items, dtype=bool),
        )

    @classmethod
    def from_rows(cls, items: Vocabulary, rows: Mapping[str, Mapping[str, Any]]) -> ItemFeatures:
        features = cls.empty(len(items))
        for i, item_id in enumerate(items.ids):
            row = rows.get(item_id)
            if row is None:
                continue
            features.titles[i] = row.get("title") or ""
            features.texts[i] = row.get("text") or ""
            features.categories[i] = list(row.get("categories") or [])
            features.tags[i] = list(row.get("tags") or [])
            if row.get("published_at") is not None:
                features.published_at[i] = row["published_at"]
            features.hidden[i] = bool(row.get("hidden"))
        return features

    def document(self, i: int) -> str:
        """One text per item for content models: title, categories, tags, then the text."""
        return item_document(self.titles[i], self.categories[i], self.tags[i], self.texts[i])


def item_document(
    title: str | None, categories: Sequence[str], tags: Sequence[str], text: str | None
) -> str:
    """The text of an item that content models and search encode: title, categories, tags,
    then the free text, the empty ones left out."""
    parts = [title or "", " ".join(categories), " ".join(tags), text or ""]
    return ". ".join(p for p in parts if p)


@dataclass(frozen=True)
class Dataset:
    users: Vocabulary
    items: Vocabulary
    user: np.ndarray  # int32 index per event
    item: np.ndarray  # int32 index per event
    kind: np.ndarray  # int8: 1 positive, 0 read, -1 negative
    weight: np.ndarray  # float32 confidence (0 unless positive)
    value: np.ndarray  # float64 raw value (rating, play count), NaN when absent
    timestamp: np.ndarray  # float64 Unix seconds
    is_rating: np.ndarray  # bool: the event is an explicit rating
    item_features: ItemFeatures | None = None
    relations: tuple[np.ndarray, np.ndarray] | None = None  # (user index, other user index)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # construction ---------------------------------------------------------------------

    @classmethod
    def from_events(
        cls,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
        types: np.ndarray,
        values: np.ndarray,
        timestamps: np.ndarray,
        feedback_types: Mapping[str, FeedbackType],
        *,
        users: Vocabulary | None = None,
        items: Vocabulary | None = None,
        item_rows: Mapping[str, Mapping[str, Any]] | None = None,
        relations: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Dataset:
        """Classify raw events with the feedback-type rules and index them.

        Types that are not configured count as read events (they are kept, not learned from).
        """
        users = users or Vocabulary.from_arrays(user_ids, *(relations or ()))
        items = items or Vocabulary.from_arrays(
            item_ids, np.array(list(item_rows or {}), dtype=object)
        )
        values = np.asarray(values, dtype=np.float64)
        kind = np.zeros(len(types), dtype=np.int8)
        weight = np.zeros(len(types), dtype=np.float32)
        is_rating = np.zeros(len(types), dtype=bool)
        distinct, inverse = np.unique(np.asarray(types, dtype=str), return_inverse=True)
        for code, name in enumerate(distinct):
            rule = feedback_types.get(str(name))
            if rule is None:
                continue
            mask = inverse == code
            if rule.kind == FeedbackKind.RATING:
                assert (
                    rule.positive_at_or_above is not None and rule.negative_at_or_below is not None
                )
                v = values[mask]
                k = np.where(v >= rule.positive_at_or_above, POSITIVE, READ)
                k = np.where(v <= rule.negative_at_or_below, NEGATIVE, k)
                kind[mask] = k
                is_rating[mask] = ~np.isnan(v)
            else:
                kind[mask] = _KIND_CODE[rule.kind]
            w = np.full(int(mask.sum()), rule.weight, dtype=np.float32)
            if rule.value_scaling == "log":
                v = np.nan_to_num(values[mask], nan=0.0).clip(min=0)
                w *= (1.0 + np.log1p(v)).astype(np.float32)
            weight[mask] = np.where(kind[mask] == POSITIVE, w, 0.0)
        rel = None
        if relations is not None:
            a, b = users.index(relations[0]), users.index(relations[1])
            ok = (a >= 0) & (b >= 0)
            rel = (a[ok].astype(np.int32), b[ok].astype(np.int32))
        return cls(
            users=users,
            items=items,
            user=users.index(user_ids).astype(np.int32),
            item=items.index(item_ids).astype(np.int32),
            kind=kind,
            weight=weight,
            value=values,
            timestamp=np.asarray(timestamps, dtype=np.float64),
            is_rating=is_rating,
            item_features=ItemFeatures.from_rows(items, item_rows)
            if item_rows is not None
            else None,
            relations=rel,
        )

    @classmethod
    def from_store(cls, store: Store, feedback_types: Mapping[str, FeedbackType]) -> Dataset:
        """A snapshot of everything in the store: every user and item, even without events."""
        cols = store.feedback.columns()
        item_rows = store.items.all_rows(ITEM_FEATURE_COLUMNS)
        user_keys = np.array(store.users.all_keys(), dtype=object)
        rel_users, rel_others, _ = store.relations.edges()
        return cls.from_events(
            cols.user_ids,
            cols.item_ids,
            cols.types,
            cols.values,
            cols.timestamps,
            feedback_types,
            users=Vocabulary.from_arrays(user_keys, cols.user_ids, rel_users, rel_others),
            items=Vocabulary.from_arrays(np.array(list(item_rows), dtype=object), cols.item_ids),
            item_rows=item_rows,
            relations=(rel_users, rel_others),
        )

    # views ------------------------------------------------------------------------------

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def __len__(self) -> int:
        return len(self.user)

    def subset(self, mask: np.ndarray) -> Dataset:
        """The events selected by ``mask`` (bool or indices), with the same vocabularies."""
        return replace(
            self,
            user=self.user[mask],
            item=self.item[mask],
            kind=self.kind[mask],
            weight=self.weight[mask],
            value=self.value[mask],
            timestamp=self.timestamp[mask],
            is_rating=self.is_rating[mask],
            _cache={},
        )

    def _matrix(self, mask: np.ndarray, data: np.ndarray) -> sp.csr_matrix:
        mask = mask & (self.user >= 0) & (self.item >= 0)  # ids outside the vocabularies
        m = sp.csr_matrix(
            (data[mask], (self.user[mask], self.item[mask])),
            shape=(self.n_users, self.n_items),
            dtype=np.float32,
        )
        m.sum_duplicates()
        m.sort_indices()
        return m

    def positive_matrix(self) -> sp.csr_matrix:
        """Users x items, the summed confidence of positive events (float32 CSR)."""
        if "positive" not in self._cache:
            self._cache["positive"] = self._matrix(self.kind == POSITIVE, self.weight)
        return self._cache["positive"]

    def seen_matrix(self) -> sp.csr_matrix:
        """Users x items, 1 where the user gave positive or negative feedback or any explicit
        rating (a neutral 3 stars still means they watched it): what never to recommend."""
        if "seen" not in self._cache:
            mask = (self.kind != READ) | self.is_rating
            m = self._matrix(mask, np.ones(len(self.user), dtype=np.float32))
            m.data[:] = 1.0
            self._cache["seen"] = m
        return self._cache["seen"]

    def ratings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user, item, rating) of explicit rating events, for rating-prediction models."""
        m = self.is_rating
        return self.user[m], self.item[m], self.value[m]
