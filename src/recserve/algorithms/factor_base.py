"""Shared maths of the latent-factor families (ALS, BPR, NMF, biased MF, SVD++).

A factor model learns a vector per user and per item; a user's scores are the dot products
of the user's *query vector* with every item vector. The intermediate classes here do what
every such model needs, once (as ``implicit``'s ``matrix_factorization_base`` does):

* :class:`FactorModel`: ``scores = query_vectors(users, history) @ item_factors.T``. The
  query vector is the learned row for a known user; for a model that reads request-time
  history (``uses_history``) a non-empty history row is *folded in* instead
  (``_fold_in``: a new event changes the answer at once); otherwise zeros, and
  ``has_signal`` is False so the caller falls back. Items without training signal
  (``servable_items`` False) score ``-inf``: their vectors are untrained. Similar items and
  users are by cosine of the factors (normalised tables cached). State: the factor tables
  and the two masks; subclasses add theirs with ``super()._state() | {...}``.
* :class:`RatingFactorModel`: explicit-rating models, ``mu + b_u + b_i + p_u . q_i``;
  ``predict_ratings`` clips to the rating range seen in training, and an unknown user or
  item falls back to the biases and the global mean. Top-N scores are the unclipped
  predicted ratings (clipping would tie the best items at the top of the scale). New
  positive events are folded in as pseudo-ratings (see the class).

Top-n through a candidate index (algorithms/candidate_search.py): the serving layer may
attach a :class:`CandidateIndex` (approximate maximum-inner-product search, e.g. faiss,
built over ``retrieval_vectors()``) with ``attach_candidates``. ``recommend`` then asks it
for ``n + excluded`` candidates (over-fetched), scores those exactly and filters; rows with
a huge exclusion set, or where too few candidates survive, take the exact BLAS path.
Without an index nothing changes.

Module functions: :func:`row_grams` (per-row weighted Gram matrices of a sparse matrix over
a factor table, the building block of every closed-form solve here) and
:func:`implicit_fold_in` (the implicit-ALS user step for rows of confidences).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recserve.algorithms.base import C, Recommender, csr_restore, csr_state, top_n
from recserve.algorithms.candidate_search import (
    CANDIDATE_MAX_EXCLUDED,
    CANDIDATE_OVERFETCH,
    CandidateIndex,
    excluded_rows,
    indexed_top_n,
    rescored,
)
from recserve.algorithms.memo import BytesMemo, request_key
from recserve.data import Dataset
from recserve.data.dataset import POSITIVE

# rows of a batched solve at once: bounds the (rows, k, k) Gram stack and the outer products
SOLVE_BATCH = 512


class NumericalError(ArithmeticError):
    """Training produced NaN or infinite factors (learning rate or regularisation too
    extreme for the data)."""


def check_finite(name: str, *arrays: np.ndarray) -> None:
    for array in arrays:
        if not np.isfinite(array).all():
            raise NumericalError(
                f"{name}: training produced NaN or infinite factors; "
                "lower the learning rate or raise the regularisation"
            )


def row_grams(weights: sp.csr_matrix, features: np.ndarray) -> np.ndarray:
    """``G[r] = sum_j weights[r, j] * outer(features[j], features[j])``, shape (rows, k, k).

    The outer products are formed once per *column that occurs* (not per non-zero), and
    summed per row by one sparse product: O(nnz k^2) time, O(columns k^2) memory.
    """
    weights = sp.csr_matrix(weights)
    rows, k = weights.shape[0], features.shape[1]
    if weights.nnz == 0:
        return np.zeros((rows, k, k), dtype=features.dtype)
    cols, inverse = np.unique(weights.indices, return_inverse=True)
    f = features[cols]
    outer = (f[:, :, None] * f[:, None, :]).reshape(len(cols), k * k)
    compact = sp.csr_matrix(
        (weights.data.astype(features.dtype), inverse, weights.indptr), shape=(rows, len(cols))
    )
    return np.asarray(compact @ outer).reshape(rows, k, k)


def implicit_fold_in(
    confidence: sp.csr_matrix,
    item_factors: np.ndarray,
    regularization: float,
    gram: np.ndarray | None = None,
) -> np.ndarray:
    """User vectors for rows of positive confidences ``c``, by the implicit-ALS user step
    (Hu, Koren & Volinsky 2008), with ``implicit``'s convention that unobserved items have
    confidence 1 and preference 0::

        x = (Y^T Y + lambda I + sum_j (c_j - 1) y_j y_j^T)^-1  sum_j c_j y_j

    This is exactly the solve ``implicit``'s ``recalculate_user`` does (by Cholesky, not
    the training's conjugate-gradient steps), batched. With every ``c_j = 1`` it is the ridge
    projection of the 0/1 history row onto the item factors,
    ``(Y^T Y + lambda I)^-1 Y^T h``. ``gram`` is a cached ``Y^T Y``.
    """
    confidence = sp.csr_matrix(confidence, dtype=np.float64, copy=True)
    confidence.sum_duplicates()
    k = item_factors.shape[1]
    if gram is None:
        whole = np.asarray(item_factors, dtype=np.float64)
        gram = whole.T @ whole
    base = np.asarray(gram, np.float64) + regularization * np.eye(k)
    # only the rows of the items that occur, in float64: a request folds in a few events,
    # and converting the whole table would cost more than the solve (51 MB at 100k x 64)
    cols, inverse = np.unique(confidence.indices, return_inverse=True)
    y = np.asarray(item_factors[cols], dtype=np.float64)
    if confidence.shape[0] == 1:  # one request: dense numpy, no sparse-matrix overheads
        c = np.zeros(len(cols))
        c[inverse.reshape(-1)] = confidence.data
        a1 = base + (y.T * (c - 1.0)) @ y
        return np.linalg.solve(a1, y.T @ c)[None].astype(np.float32)
    confidence = sp.csr_matrix(
        (confidence.data, inverse.reshape(-1), confidence.indptr),
        shape=(confidence.shape[0], len(cols)),
    )
    out = np.zeros((confidence.shape[0], k), dtype=np.float64)
    for start in range(0, confidence.shape[0], SOLVE_BATCH):
        block = confidence[start : start + SOLVE_BATCH]
        extra = block.copy()
        extra.data -= 1.0
        a = base[None] + row_grams(extra, y)
        b = np.asarray(block @ y)
        out[start : start + len(b)] = np.linalg.solve(a, b[..., None])[..., 0]
    return out.astype(np.float32)


def _normalised(table: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    return (table / np.maximum(norms, 1e-12)).astype(np.float32)


def _cosine_neighbours(
    table: np.ndarray, normed: np.ndarray, valid: np.ndarray, query: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-n rows of ``table`` by cosine to each row index in ``query`` (-1: an empty row),
    never the row itself, never an invalid row."""
    query = np.asarray(query, dtype=np.int64)
    safe = np.clip(query, 0, None)
    sims = normed[safe] @ normed.T if len(table) else np.zeros((len(query), 0), np.float32)
    sims[:, ~valid] = -np.inf
    ok = query >= 0
    sims[np.flatnonzero(ok), query[ok]] = -np.inf
    ok[ok] = valid[query[ok]]
    sims[~ok] = -np.inf
    return top_n(sims, n)


class FactorModel(Recommender[C]):
    """Scores are ``query_vectors @ item_factors.T``; see the module docstring."""

    supports_similar_items: ClassVar[bool] = True
    supports_similar_users: ClassVar[bool] = True

    user_factors: np.ndarray  # float32 (n_users, k)
    item_factors: np.ndarray  # float32 (n_items, k)
    user_support: np.ndarray  # bool (n_users,): the user had training signal
    servable_items: np.ndarray  # bool (n_items,): the item had training signal
    _candidates: CandidateIndex | None = None  # attached by serving for large catalogues
    _neighbours: CandidateIndex | None = None  # the same over ``neighbour_vectors()``

    def _set_factors(
        self,
        user_factors: np.ndarray,
        item_factors: np.ndarray,
        user_support: np.ndarray,
        servable_items: np.ndarray,
    ) -> None:
        self.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        self.user_support = np.asarray(user_support, dtype=bool)
        self.servable_items = np.asarray(servable_items, dtype=bool)
        # untrained rows are noise (BPR, NMF leave them random or zero): never use them
        self.user_factors[~self.user_support] = 0.0
        self.item_factors[~self.servable_items] = 0.0
        self._cache: dict[str, np.ndarray] = {}  # normalised tables, Gram matrices
        self._fold_ins = BytesMemo()  # one request's folded-in query vector, by its history
        self._candidates = None  # an index over the old factors would be stale
        self._neighbours = None

    # -- query side ---------------------------------------------------------------------

    def _fold_in(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """Query vectors from non-empty history rows (models with ``uses_history``)."""
        raise NotImplementedError(f"{self.family} does not fold in request-time history")

    def _known(self, users: np.ndarray) -> np.ndarray:
        known = users >= 0
        known[known] = self.user_support[users[known]]
        return known

    def _has_history(self, history: sp.csr_matrix | None, n_rows: int) -> np.ndarray:
        if not self.uses_history or history is None:
            return np.zeros(n_rows, dtype=bool)
        return np.diff(history.indptr) > 0

    def _query(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        if len(users) == 1 and self.uses_history and history.indptr[1] > 0:
            # one request with a history: memoised by its exact content (algorithms/memo.py)
            key = request_key(users, history.indptr, history.indices, history.data)
            return self._fold_ins.get(key, lambda: self._fold_in(users, history)[0])[None].copy()
        out = np.zeros((len(users), self.item_factors.shape[1]), dtype=np.float32)
        known = self._known(users)
        out[known] = self.user_factors[users[known]]
        rows = np.flatnonzero(self._has_history(history, len(users)))
        if len(rows):
            part = history if len(rows) == len(users) else history[rows]
            out[rows] = self._fold_in(users[rows], part)
        return out

    def query_vectors(self, users: np.ndarray, history: sp.csr_matrix | None = None) -> np.ndarray:
        """Per user the vector that is scored against ``item_factors`` (zeros: no signal)."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        return self._query(users, self._history(users, history))

    def has_signal(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """A known user with training signal, or a non-empty history the model folds in."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        return self._known(users) | self._has_history(history, len(users))

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        scores = self._query(users, history) @ self.item_factors.T
        scores[:, ~self.servable_items] = -np.inf
        return scores

    # -- top-n through a candidate index ----------------------------------------------------

    def retrieval_vectors(self) -> np.ndarray:
        """Item-side vectors whose inner product with ``_retrieval_queries`` orders items as
        ``score`` does (the rows a candidate index is built over)."""
        self._check_fitted()
        return self.item_factors

    def _retrieval_queries(
        self, users: np.ndarray, history: sp.csr_matrix
    ) -> tuple[np.ndarray, np.ndarray]:
        """(query rows against ``retrieval_vectors``, per-row score offset)."""
        return self._query(users, history), np.zeros(len(users), dtype=np.float32)

    def attach_candidates(self, index: CandidateIndex | None) -> None:
        """Serve top-n through ``index`` (None: exact BLAS top-n again)."""
        self._check_fitted()
        self._candidates = index

    @property
    def candidate_index(self) -> CandidateIndex | None:
        return self._candidates

    def recommend(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        n: int = 10,
        exclude: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n as in the base class; through the candidate index when one is attached."""
        index = self._candidates
        if index is None or n <= 0:
            return super().recommend(users, history, n, exclude, sequences)
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        self._check_sequences(users, sequences)
        history = self._history(users, history)
        if len(users) == 1:  # one request: serving's hot path
            one = self._indexed_one(index, users, history, n, exclude)
            return one if one is not None else super().recommend(users, history, n, exclude)
        excluded = excluded_rows(exclude, len(users))
        ids = np.full((len(users), n), -1, dtype=np.int64)
        top = np.full((len(users), n), -np.inf, dtype=np.float32)
        signal = self.has_signal(users, history)
        small = np.array([len(e) <= CANDIDATE_MAX_EXCLUDED for e in excluded], dtype=bool)
        rows = np.flatnonzero(signal & small)
        exact = list(np.flatnonzero(signal & ~small))
        if len(rows):
            whole = len(rows) == len(users)  # the usual case: no sparse row slicing
            queries, offsets = self._retrieval_queries(
                users if whole else users[rows], history if whole else history[rows]
            )
            k = max(n * CANDIDATE_OVERFETCH, n + max(len(excluded[r]) for r in rows))
            candidates = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
            for i, r in enumerate(rows):
                found = rescored(
                    candidates[i], self.retrieval_vectors(), queries[i], n, excluded[r],
                    self.servable_items, float(offsets[i]),
                )  # fmt: skip
                if found is None:
                    exact.append(r)
                else:
                    ids[r], top[r] = found
        if exact:
            sub = np.asarray(sorted(exact), dtype=np.int64)
            rest = None if exclude is None else sp.csr_matrix(exclude)[sub]
            ids[sub], top[sub] = super().recommend(users[sub], history[sub], n, rest)
        return ids, top

    def _indexed_one(
        self,
        index: CandidateIndex,
        users: np.ndarray,
        history: sp.csr_matrix,
        n: int,
        exclude: sp.csr_matrix | None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``recommend`` through ``index`` for one user, in as few array operations as it
        can be done (each costs microseconds, the whole request a fraction of a millisecond);
        None where the exact path must answer (too many items excluded, or too few
        candidates left after the exclusions)."""
        user = int(users[0])
        folded = self.uses_history and history.indptr[1] > 0
        if not (folded or (user >= 0 and self.user_support[user])):  # has_signal, one row
            return np.full((1, n), -1, dtype=np.int64), np.full((1, n), -np.inf, np.float32)
        excluded = excluded_rows(exclude, 1)[0]
        if len(excluded) > CANDIDATE_MAX_EXCLUDED:
            return None
        queries, offsets = self._retrieval_queries(users, history)
        found = indexed_top_n(
            index, self.retrieval_vectors(), queries[0], n, excluded, self.servable_items,
            float(offsets[0]),
        )  # fmt: skip
        return None if found is None else (found[0][None], found[1][None])

    # -- similarity -----------------------------------------------------------------------

    def _normed_table(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = _normalised(getattr(self, name))
        return self._cache[name]

    def _item_gram(self) -> np.ndarray:
        """``Y^T Y`` of the item factors (float64), cached for fold-in solves."""
        if "gram" not in self._cache:
            y = self.item_factors.astype(np.float64)
            self._cache["gram"] = y.T @ y
        return self._cache["gram"]

    def neighbour_vectors(self) -> np.ndarray:
        """Item factors scaled to unit length: their inner product is the cosine that
        ``similar_items`` ranks by (what a neighbour index is built over). Not cached: at
        1M x 64 it is 256 MB, needed once to build the index."""
        self._check_fitted()
        return _normalised(self.item_factors)

    def attach_neighbours(self, index: CandidateIndex | None) -> None:
        """Answer ``similar_items`` through ``index`` over ``neighbour_vectors()`` (None:
        exact cosine against every item again)."""
        self._check_fitted()
        self._neighbours = index

    @property
    def neighbour_index(self) -> CandidateIndex | None:
        return self._neighbours

    def similar_items(self, items: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The n items whose factors are closest by cosine; through the neighbour index when
        one is attached and ``n`` is modest (candidates re-scored exactly)."""
        self._check_fitted()
        # past CANDIDATE_MAX_EXCLUDED neighbours over-fetching costs more than exact search
        if self._neighbours is not None and n <= CANDIDATE_MAX_EXCLUDED:
            return self._indexed_neighbours(self._neighbours, np.asarray(items, np.int64), n)
        table = self.item_factors
        return _cosine_neighbours(
            table, self._normed_table("item_factors"), self.servable_items, items, n
        )

    def _indexed_neighbours(
        self, index: CandidateIndex, items: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``similar_items`` from ``n`` x ``CANDIDATE_OVERFETCH`` index candidates per item,
        re-scored by exact cosine: no pass over the catalogue and no normalised copy of it
        (which at 1M items took ~29 ms per request and 256 MB)."""
        ids = np.full((len(items), n), -1, dtype=np.int64)
        scores = np.full((len(items), n), -np.inf, dtype=np.float32)
        ok = items >= 0
        ok[ok] = self.servable_items[items[ok]]
        if not ok.any():
            return ids, scores
        norms = self._item_norms()
        rows = np.flatnonzero(ok)
        queries = self.item_factors[items[rows]] / norms[items[rows], None]
        found = index.search(queries, n * CANDIDATE_OVERFETCH + 1)
        for row, query, candidates in zip(rows, queries, found, strict=True):
            candidates = candidates[(candidates >= 0) & (candidates != items[row])]
            cosine = (self.item_factors[candidates] @ query) / norms[candidates]
            best = np.argsort(-cosine, kind="stable")[:n]
            ids[row, : len(best)] = candidates[best]
            scores[row, : len(best)] = cosine[best]
        return ids, scores

    def _item_norms(self) -> np.ndarray:
        """Euclidean norm per item factor row (zero rows: 1, so they score 0), cached."""
        if "item_norms" not in self._cache:
            norms = np.linalg.norm(self.item_factors, axis=1)
            self._cache["item_norms"] = np.where(norms > 0, norms, 1.0).astype(np.float32)
        return self._cache["item_norms"]

    def similar_users(self, users: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The n users whose factors are closest by cosine."""
        self._check_fitted()
        table = self.user_factors
        return _cosine_neighbours(
            table, self._normed_table("user_factors"), self.user_support, users, n
        )

    # -- persistence ----------------------------------------------------------------------

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "user_factors": self.user_factors,
            "item_factors": self.item_factors,
            "user_support": self.user_support,
            "servable_items": self.servable_items,
        }

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self._set_factors(
            arrays["user_factors"],
            arrays["item_factors"],
            arrays["user_support"],
            arrays["servable_items"],
        )


# -- explicit ratings ----------------------------------------------------------------------


def training_ratings(data: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, item, rating) of the explicit ratings, the latest per (user, item) pair, with
    ids outside the vocabularies dropped."""
    ok = data.is_rating & (data.user >= 0) & (data.item >= 0)
    users, items = data.user[ok].astype(np.int64), data.item[ok].astype(np.int64)
    ratings, times = data.value[ok], data.timestamp[ok]
    order = np.lexsort((times, items, users))  # per pair, the latest last
    users, items, ratings = users[order], items[order], ratings[order]
    last = np.ones(len(users), dtype=bool)
    last[:-1] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
    return users[last], items[last], ratings[last].astype(np.float64)


def binary_pattern(matrix: sp.spmatrix) -> sp.csr_matrix:
    """1 where the row has the column (explicit zeros dropped)."""
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.data[:] = 1.0
    return out


class RatingFactorModel(FactorModel[C]):
    """``mu + b_u + b_i + p_u . q_i``, fitted on explicit ratings.

    Fold-in: a positive event is not a rating, so each item of the request history that
    the user has not rated in training counts as a *pseudo-rating* of ``positive_rating``
    (the mean of the training ratings that are positive feedback), and the user's
    ``[p_u, b_u]`` is updated by recursive least squares against the item factors::

        x = x_0 + A^-1 sum_new (r~ - prediction_j(x_0)) z_j,
        A = lambda I + sum_{rated and new} z_j z_j^T,   z_j = [q_j, 1]

    with ``x_0`` the learned vector (zeros for an unknown user) and ``lambda`` the config's
    ``fold_in_regularization``. A history with nothing new leaves the learned user exactly
    as trained; one new like moves them at once. Subclasses add an implicit-feedback term
    to the query (``_implicit_term``: SVD++).

    Subclass configs define ``fold_in_regularization``; ``_fit`` calls ``_set_factors``,
    then ``_set_ratings``.
    """

    predicts_ratings: ClassVar[bool] = True
    uses_history: ClassVar[bool] = True

    global_mean: float
    user_bias: np.ndarray  # float32 (n_users,)
    item_bias: np.ndarray  # float32 (n_items,)
    rating_range: np.ndarray  # float64 [low, high] seen in training
    positive_rating: float  # the pseudo-rating of a positive event
    trained_ratings: sp.csr_matrix  # users x items, 1 where the user rated the item

    def _set_ratings(
        self,
        data: Dataset,
        ratings: tuple[np.ndarray, np.ndarray, np.ndarray],
        global_mean: float,
        user_bias: np.ndarray,
        item_bias: np.ndarray,
    ) -> None:
        users, items, values = ratings
        self.global_mean = float(global_mean)
        self.user_bias = np.where(self.user_support, user_bias, 0.0).astype(np.float32)
        self.item_bias = np.where(self.servable_items, item_bias, 0.0).astype(np.float32)
        self.rating_range = np.array([values.min(), values.max()], dtype=np.float64)
        liked = data.is_rating & (data.kind == POSITIVE)
        self.positive_rating = float(data.value[liked].mean()) if liked.any() else values.max()
        self.trained_ratings = binary_pattern(
            sp.csr_matrix(
                (np.ones(len(users), np.float32), (users, items)),
                shape=(data.n_users, data.n_items),
            )
        )

    # -- query side ---------------------------------------------------------------------

    def _own_factors(self) -> np.ndarray:
        """``p_u`` per user (the query without any implicit term)."""
        return self.user_factors

    def _implicit_term(
        self, users: np.ndarray, known: np.ndarray, history: sp.csr_matrix
    ) -> np.ndarray:
        """The query's part that comes from events, for history rows (none here)."""
        return np.zeros((len(users), self.item_factors.shape[1]), dtype=np.float32)

    def _fold_in_rows(
        self, users: np.ndarray, history: sp.csr_matrix
    ) -> tuple[np.ndarray, np.ndarray]:
        """(query, user bias) for rows with a history; see the class docstring."""
        known = self._known(users)
        safe = np.where(known, users, 0)
        implicit = self._implicit_term(users, known, history)
        k = self.item_factors.shape[1]
        x = np.zeros((len(users), k + 1), dtype=np.float64)
        x[known, :k] = self._own_factors()[users[known]]
        x[known, k] = self.user_bias[users[known]]
        rated = sp.diags(known.astype(np.float32)) @ self.trained_ratings[safe]
        new = binary_pattern(history) - rated
        new.data = (new.data > 0) & self.servable_items[new.indices]
        new = binary_pattern(new)
        rows = np.flatnonzero(np.diff(new.indptr) > 0)
        if len(rows):
            z = np.c_[self.item_factors, np.ones(self.n_items, np.float32)].astype(np.float64)
            lam = float(self.config.fold_in_regularization)  # type: ignore[attr-defined]
            for start in range(0, len(rows), SOLVE_BATCH):
                block = rows[start : start + SOLVE_BATCH]
                a = row_grams(binary_pattern(rated[block] + new[block]), z)
                a[:, np.arange(k + 1), np.arange(k + 1)] += lam
                nb = new[block].tocoo()
                r, j = nb.row, nb.col
                predicted = (
                    self.global_mean
                    + self.item_bias[j]
                    + np.einsum("nk,nk->n", z[j], x[block][r])
                    + np.einsum("nk,nk->n", self.item_factors[j], implicit[block][r])
                )
                residual = sp.csr_matrix(
                    (self.positive_rating - predicted, (r, j)), shape=(len(block), self.n_items)
                )
                step = np.linalg.solve(a, np.asarray(residual @ z)[..., None])[..., 0]
                x[block] += step
        query = (x[:, :k] + implicit).astype(np.float32)
        return query, x[:, k].astype(np.float32)

    def _query_and_bias(
        self, users: np.ndarray, history: sp.csr_matrix
    ) -> tuple[np.ndarray, np.ndarray]:
        query = np.zeros((len(users), self.item_factors.shape[1]), dtype=np.float32)
        bias = np.zeros(len(users), dtype=np.float32)
        known = self._known(users)
        query[known] = self.user_factors[users[known]]
        bias[known] = self.user_bias[users[known]]
        rows = np.flatnonzero(self._has_history(history, len(users)))
        if len(rows):
            query[rows], bias[rows] = self._fold_in_rows(users[rows], history[rows])
        return query, bias

    def _query(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self._query_and_bias(users, history)[0]

    def retrieval_vectors(self) -> np.ndarray:
        """``[q_i, b_i]``: with the query ``[p_u, 1]`` the inner product orders items by the
        predicted rating (the user's bias and the global mean shift a row, not its order)."""
        self._check_fitted()
        if "retrieval" not in self._cache:
            self._cache["retrieval"] = np.ascontiguousarray(
                np.c_[self.item_factors, self.item_bias], dtype=np.float32
            )
        return self._cache["retrieval"]

    def _retrieval_queries(
        self, users: np.ndarray, history: sp.csr_matrix
    ) -> tuple[np.ndarray, np.ndarray]:
        query, bias = self._query_and_bias(users, history)
        ones = np.ones((len(users), 1), dtype=np.float32)
        return np.c_[query, ones].astype(np.float32), bias + np.float32(self.global_mean)

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        query, bias = self._query_and_bias(users, history)
        scores = query @ self.item_factors.T
        scores += self.item_bias[None, :] + bias[:, None] + self.global_mean
        scores[:, ~self.servable_items] = -np.inf
        return scores

    def predict_ratings(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings, clipped to the training range; an unknown user or item (or
        one without ratings) contributes no bias and no factor term."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if users.shape != items.shape:
            raise ValueError("users and items must have the same shape")
        known_items = items >= 0
        known_items[known_items] = self.servable_items[items[known_items]]
        safe_items = np.where(known_items, items, 0)
        no_history = sp.csr_matrix((len(users), self.n_items), dtype=np.float32)
        query, bias = self._query_and_bias(users, no_history)
        dots = np.einsum("nk,nk->n", query, self.item_factors[safe_items])
        item_part = np.where(known_items, self.item_bias[safe_items] + dots, 0.0)
        return np.clip(self.global_mean + bias + item_part, *self.rating_range).astype(np.float64)

    def _state(self) -> dict[str, np.ndarray]:
        return (
            super()._state()
            | {
                "global_mean": np.array(self.global_mean, dtype=np.float64),
                "user_bias": self.user_bias,
                "item_bias": self.item_bias,
                "rating_range": self.rating_range,
                "positive_rating": np.array(self.positive_rating, dtype=np.float64),
            }
            | csr_state("ratings", self.trained_ratings)
        )

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        super()._restore(arrays)
        self.global_mean = float(arrays["global_mean"])
        self.user_bias = arrays["user_bias"].astype(np.float32)
        self.item_bias = arrays["item_bias"].astype(np.float32)
        self.rating_range = arrays["rating_range"].astype(np.float64)
        self.positive_rating = float(arrays["positive_rating"])
        self.trained_ratings = csr_restore("ratings", arrays)
