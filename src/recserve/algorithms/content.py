"""Content models: items are similar when their text is, so cold items work from day one.

Each item's document is ``ItemFeatures.document(i)`` (title, categories, tags, text). Two
families turn documents into L2-normalised vectors:

* ``tfidf``: scikit-learn's ``TfidfVectorizer`` (sparse, vocabulary learned on the catalogue);
* ``embedding``: MiniLM sentence embeddings (dense float32, 384 dimensions), encoded once at
  fit time and stored as a named array, so loading never re-encodes.

``similar_items`` works for every item with text, including items nobody has interacted with.
A user's scores compare their profile -- the confidence-weighted mean of the vectors of the
items in their history (the request's, else their training positives) -- with every item.

``metric``: ``cosine`` scores ``q.v / (|q| |v|)``; ``euclidean`` scores ``1 / (1 + |q - v|)``.
With unit-length item vectors both give the same order for one query (``|q - v|^2 = |q|^2 +
1 - 2 q.v``); they differ in the scores, which matter where scores are compared or fused
across queries, and Euclidean also feels the profile's length (a focused history has a long
mean vector, a scattered one a short one). Items without text score ``-inf``: never listed.

New items (``with_new_items``): an item inserted after training is encoded the way the
catalogue was (the fitted TF-IDF vocabulary and IDF, which are saved with the model; or
MiniLM) and appended to the item space, so it is similar to and recommendable for users
at once. An item whose text changed is re-encoded in place.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Self, TypeAlias, TypeVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import (
    ModelConfig,
    Recommender,
    csr_restore,
    csr_state,
    grown_vocabulary,
    top_n,
    with_columns,
)
from recserve.algorithms.similarity import effective_history
from recserve.data import Dataset, ItemFeatures

Vectors: TypeAlias = np.ndarray | sp.csr_matrix


class ContentConfig(ModelConfig):
    metric: Literal["cosine", "euclidean"] = "cosine"


class TfidfConfig(ContentConfig):
    min_df: int = Field(default=1, ge=1, le=1_000_000, description="Drop rarer terms.")
    max_df: float = Field(default=1.0, gt=0, le=1, description="Drop terms in more docs (share).")
    ngram_max: int = Field(default=1, ge=1, le=3, description="Word n-grams up to this length.")
    sublinear_tf: bool = True
    max_features: int | None = Field(default=None, ge=1, le=10_000_000)
    stop_words: bool = Field(default=True, description="Drop English stop words.")

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "ngram_max": trial.suggest_int("ngram_max", 1, 2),
            "min_df": trial.suggest_int("min_df", 1, 5),
            "sublinear_tf": trial.suggest_categorical("sublinear_tf", [True, False]),
        }


class EmbeddingConfig(ContentConfig):
    batch_size: int = Field(default=64, ge=1, le=4096, description="Texts per encoder batch.")


def item_documents(data: Dataset) -> list[str]:
    """One document per item ("" where the snapshot has no features for it)."""
    features = data.item_features
    if features is None:
        return [""] * data.n_items
    return [features.document(i) for i in range(data.n_items)]


def _squared_norms(vectors: Vectors) -> np.ndarray:
    if isinstance(vectors, sp.spmatrix):
        return np.asarray(vectors.multiply(vectors).sum(axis=1), dtype=np.float64).ravel()
    return np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64)


def placed_rows(old: Vectors, rows: Vectors, positions: np.ndarray, n_total: int) -> Vectors:
    """``old`` grown to ``n_total`` rows, with ``rows[k]`` at ``positions[k]`` (an existing
    row is replaced, a new one appended; positions past ``old`` cover the new rows)."""
    n_old = old.shape[0]
    if isinstance(old, sp.spmatrix):
        stacked = sp.csr_matrix(sp.vstack([old, sp.csr_matrix(rows)], format="csr"))
        order = np.arange(n_total)
        order[positions] = n_old + np.arange(len(positions))
        return sp.csr_matrix(stacked[order], dtype=np.float32)
    out = np.zeros((n_total, old.shape[1]), dtype=np.float32)
    out[:n_old] = old
    out[positions] = rows
    return out


Config = TypeVar("Config", bound=ContentConfig)


class ContentRecommender(Recommender[Config]):
    """Shared by the content families; subclasses only turn documents into vectors."""

    uses_history = True
    supports_similar_items = True
    content_based: ClassVar[bool] = True  # read by the hybrid's cold-start switching

    vectors: Vectors  # items x dims, unit rows for items with text, zero rows otherwise
    has_text: np.ndarray
    trained_history: sp.csr_matrix

    @abstractmethod
    def _encode(self, documents: list[str]) -> Vectors:
        """Item vectors, unit length where the document gives any, zero elsewhere."""

    def _fit(self, data: Dataset) -> None:
        self.vectors = self._encode(item_documents(data))
        self.trained_history = data.positive_matrix().copy()
        self._prepare_norms()

    def _prepare_norms(self) -> None:
        self._norms2 = _squared_norms(self.vectors)
        self.has_text = self._norms2 > 0

    def _content_history(self, users: np.ndarray, history: sp.csr_matrix | None) -> sp.csr_matrix:
        """The effective history restricted to items with text."""
        h = effective_history(users, history, self.trained_history)
        h = sp.csr_matrix(h @ sp.diags(self.has_text.astype(np.float32)))
        h.eliminate_zeros()
        return h

    def has_signal(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        return np.diff(self._content_history(users, history).indptr) > 0

    def _similarity(self, queries: Vectors) -> np.ndarray:
        """Dense query x item scores under ``metric``; -inf for items without text."""
        product = queries @ self.vectors.T  # float32 on both sides: no upcast copy
        if isinstance(product, sp.spmatrix):
            product = product.toarray()
        dots = np.asarray(product, dtype=np.float64)
        q2 = _squared_norms(queries)[:, None]
        if self.config.metric == "cosine":
            scores = np.divide(
                dots,
                np.sqrt(q2 * self._norms2[None, :]),
                out=np.zeros_like(dots),
                where=(q2 > 0) & (self._norms2[None, :] > 0),
            )
        else:
            scores = 1.0 / (1.0 + np.sqrt(np.maximum(q2 + self._norms2[None, :] - 2 * dots, 0)))
        scores[:, ~self.has_text] = -np.inf
        scores[q2[:, 0] == 0] = -np.inf
        return scores.astype(np.float32)

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        h = self._content_history(users, history)
        weights = np.asarray(h.sum(axis=1), dtype=np.float64).ravel()
        inverse = np.divide(1.0, weights, out=np.zeros_like(weights), where=weights > 0)
        means = sp.csr_matrix(sp.diags(inverse.astype(np.float32)) @ h, dtype=np.float32)
        return self._similarity(means @ self.vectors)  # confidence-weighted mean vectors

    def similar_items(self, items: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        safe = np.clip(items, 0, None)
        scores = self._similarity(self.vectors[safe])
        scores[np.arange(len(items)), safe] = -np.inf  # not its own neighbour
        scores[items < 0] = -np.inf
        return top_n(scores, n)

    def similar_to_documents(
        self, documents: list[str], n: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """The n catalogue items closest to each of ``documents`` (texts outside the catalogue,
        such as a new item's), encoded in the fitted space; -1 padded. A document the family
        cannot encode (``_encode_new`` gives None) or without text gets no neighbour."""
        self._check_fitted()
        encoded = self._encode_new(documents)
        if encoded is None:
            return np.full((len(documents), n), -1, np.int64), np.full(
                (len(documents), n), -np.inf, np.float32
            )
        return top_n(self._similarity(encoded), n)

    def _encode_new(self, documents: list[str]) -> Vectors | None:
        """Vectors of documents not seen at fit time, in the fitted space; None: cannot
        (the default: ``_encode`` may learn a new space, as TF-IDF's fit does)."""
        return None

    def with_new_items(self, ids: Sequence[str], features: ItemFeatures) -> Self | None:
        self._check_fitted()
        assert self.items is not None
        ids = list(ids)
        encoded = self._encode_new([features.document(k) for k in range(len(ids))])
        if encoded is None:
            return None
        items, positions = grown_vocabulary(self.items, ids)
        model = copy.copy(self)
        model.items = items
        model.vectors = placed_rows(self.vectors, encoded, positions, len(items))
        model.trained_history = with_columns(self.trained_history, len(items))
        model._prepare_norms()
        return model

    def _state(self) -> dict[str, np.ndarray]:
        vectors = (
            csr_state("vectors", self.vectors)
            if sp.issparse(self.vectors)
            else {"vectors": self.vectors}
        )
        return {**vectors, **csr_state("history", self.trained_history)}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        if "vectors.data" in arrays:
            self.vectors = csr_restore("vectors", arrays)
        else:
            self.vectors = arrays["vectors"]
        self.trained_history = csr_restore("history", arrays)
        self._prepare_norms()


class TfidfContent(ContentRecommender[TfidfConfig]):
    """TF-IDF vectors of the item documents (scikit-learn), cosine or Euclidean."""

    family = "tfidf"
    config_class = TfidfConfig

    # the fitted vocabulary (column order) and IDF, to encode new items; None when loaded
    # from a model saved before they were kept
    terms: np.ndarray | None = None
    idf: np.ndarray | None = None

    def _vectorizer(self, vocabulary: dict[str, int] | None = None) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        c = self.config
        return TfidfVectorizer(
            min_df=c.min_df,
            max_df=c.max_df,
            ngram_range=(1, c.ngram_max),
            sublinear_tf=c.sublinear_tf,
            max_features=c.max_features,
            stop_words="english" if c.stop_words else None,
            dtype=np.float32,
            vocabulary=vocabulary,
        )

    def _encode(self, documents: list[str]) -> Vectors:
        with_text = [d for d in documents if d]
        if not with_text:
            self.terms, self.idf = np.array([], dtype=str), np.array([], dtype=np.float32)
            return sp.csr_matrix((len(documents), 0), dtype=np.float32)
        vectorizer = self._vectorizer()
        vectorizer.fit(with_text)  # the vocabulary and IDF from real documents only
        self.terms = np.asarray(vectorizer.get_feature_names_out(), dtype=str)
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float32)
        return sp.csr_matrix(vectorizer.transform(documents), dtype=np.float32)

    def _encode_new(self, documents: list[str]) -> Vectors | None:
        if self.terms is None or self.idf is None:
            return None
        if not len(self.terms):
            return sp.csr_matrix((len(documents), 0), dtype=np.float32)
        vectorizer = self._vectorizer({term: k for k, term in enumerate(self.terms.tolist())})
        vectorizer.idf_ = self.idf  # the fitted IDF: new documents do not move it
        return sp.csr_matrix(vectorizer.transform(documents), dtype=np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        state = super()._state()
        if self.terms is not None and self.idf is not None:
            state.update({"terms": self.terms, "idf": self.idf})
        return state

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        super()._restore(arrays)
        self.terms, self.idf = arrays.get("terms"), arrays.get("idf")


class EmbeddingContent(ContentRecommender[EmbeddingConfig]):
    """MiniLM sentence embeddings of the item documents, cosine or Euclidean."""

    family = "embedding"
    config_class = EmbeddingConfig

    def _encode(self, documents: list[str]) -> Vectors:
        with_text = np.flatnonzero([bool(d) for d in documents])
        if not len(with_text):
            return np.zeros((len(documents), 0), dtype=np.float32)
        from recserve.algorithms.text_embedding import encode

        encoded = encode([documents[i] for i in with_text], batch_size=self.config.batch_size)
        vectors = np.zeros((len(documents), encoded.shape[1]), dtype=np.float32)
        vectors[with_text] = encoded
        return vectors

    def _encode_new(self, documents: list[str]) -> Vectors | None:
        dims = self.vectors.shape[1]
        if not dims:  # no item had text at fit time: new ones cannot be compared either
            return np.zeros((len(documents), 0), dtype=np.float32)
        vectors = self._encode(documents)
        if vectors.shape[1] != dims:  # none of the new documents has text
            return np.zeros((len(documents), dims), dtype=np.float32)
        return vectors
