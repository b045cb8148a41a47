"""The one recommender protocol every model family implements.

Batch-first: arrays of internal user indices in, ``(item indices, scores)`` arrays out.

The contract, written once here:

* ``fit(data)`` learns from a :class:`~recserve.data.Dataset` and keeps its vocabularies;
  hyperparameters live in a typed, validated ``config`` apart from learned state.
* ``score(users, history)`` returns a dense ``len(users) x n_items`` float32 array. ``users``
  holds internal indices, ``-1`` for a user the model never saw. ``history`` is a CSR matrix
  (one row per requested user, the model's item columns) of the user's *current* positive
  feedback, read from the store at request time: models that can use it (item-kNN, fold-in
  for factor models, sequential models) make an event count at once, without retraining.
* ``recommend(users, history, n, exclude=...)`` is top-n of ``score`` with excluded items
  (already seen, hidden, filtered) removed. Rows are padded with ``-1`` / ``-inf`` when
  fewer than ``n`` items qualify. An unknown user with no history gets an all-``-1`` row
  (``has_signal`` is False), so the caller can fall back to another model, never an IndexError.
* ``sequences`` (optional, a list with one int array per requested user: the user's recent
  positive items, oldest first) feeds order-aware models (``uses_sequence``: SASRec,
  GRU4Rec); other models ignore it. When it is None, such models use the sequence they
  saw in training for known users.
* ``similar_items(items, n)`` for families that define item similarity.
* ``with_new_items(ids, features)`` (optional): a copy of the model that can also recommend
  items inserted after training, placed from their content (None where the family cannot).
* ``save(dir)`` / ``load(dir)`` persist named arrays (``.npz``, no pickles) plus a JSON config.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, Self, TypeVar

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict

from recserve.data import Dataset, ItemFeatures, Vocabulary

ARRAYS_FILE = "arrays.npz"
CONFIG_FILE = "config.json"


class ModelConfig(BaseModel):
    """Hyperparameters: validated, immutable, JSON round-trippable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 42

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Hyperparameters to try, drawn from an Optuna ``trial``; {} means nothing to tune.

        Kept beside the config so the ranges live next to the fields they vary.
        """
        return {}


class NotFittedError(RuntimeError):
    """The model was used before ``fit`` or ``load``."""


C = TypeVar("C", bound=ModelConfig)

# family name -> class; filled by ``Recommender.__init_subclass__``.
REGISTERED: dict[str, type[Recommender[Any]]] = {}


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-n of dense ``scores`` (best first, ties by lower index, as a stable full
    sort), padded with ``-1``; ``-inf`` and NaN never make a list. Serving and evaluation
    both rank with it, so an offline list is the list a request gets. The work is one
    ``argpartition``-style selection per row, not a sort of the catalogue."""
    scores = np.where(np.isnan(scores), -np.inf, scores)
    n_rows, n_cols = scores.shape
    k = min(n, n_cols)
    ids = np.full((n_rows, n), -1, dtype=np.int64)
    top = np.full((n_rows, n), -np.inf, dtype=np.float32)
    if k == 0 or n_rows == 0:
        return ids, top
    if k == n_cols:
        cols = np.tile(np.arange(n_cols), (n_rows, 1))
    else:
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]  # each row's k-th best value
        take = scores > kth[:, None]
        tied = scores == kth[:, None]
        need = k - take.sum(axis=1)
        n_tied = tied.sum(axis=1)
        whole = need == n_tied
        take[whole] |= tied[whole]
        for row in np.flatnonzero(~whole):  # more ties than places: the lowest indices
            take[row, np.flatnonzero(tied[row])[: need[row]]] = True
        cols = np.nonzero(take)[1].reshape(n_rows, k)  # ascending per row
    values = np.take_along_axis(scores, cols, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    cols = np.take_along_axis(cols, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    finite = np.isfinite(values)
    ids[:, :k] = np.where(finite, cols, -1)
    top[:, :k] = np.where(finite, values, -np.inf)
    return ids, top


def empty_history(n_rows: int, n_items: int) -> sp.csr_matrix:
    return sp.csr_matrix((n_rows, n_items), dtype=np.float32)


class Recommender(ABC, Generic[C]):
    """Base class of every model family; subclasses implement fit, score and their state."""

    family: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    uses_history: ClassVar[bool] = False  # scores depend on the request-time history
    uses_sequence: ClassVar[bool] = False  # scores depend on the order of recent events
    personalised: ClassVar[bool] = True  # False: the same ranking for everyone

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        family = cls.__dict__.get("family")
        if family:
            if family in REGISTERED and REGISTERED[family] is not cls:
                raise TypeError(f"model family {family!r} is defined twice")
            REGISTERED[family] = cls

    def __init__(self, config: C | None = None, **params: Any):
        if config is not None and params:
            raise TypeError("give either a config object or keyword parameters, not both")
        self.config: C = config if config is not None else self.config_class(**params)  # type: ignore[assignment]
        self.users: Vocabulary | None = None
        self.items: Vocabulary | None = None

    @classmethod
    def expected_fit_seconds(cls, data: Dataset) -> float:
        """About how long one fit on ``data`` takes on this machine, before any was timed,
        for a family whose cost is known to explode with the data (a model search then
        leaves it out of a budget it would overrun); 0: no estimate, assumed quick."""
        return 0.0

    # -- to implement -------------------------------------------------------------------

    @abstractmethod
    def _fit(self, data: Dataset) -> None:
        """Learn from ``data``; vocabularies are already set."""

    @abstractmethod
    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """Dense scores for known-or-unknown users (see the module docstring)."""

    @abstractmethod
    def _state(self) -> dict[str, np.ndarray]:
        """Learned arrays to persist."""

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of ``_state``."""

    # -- protocol -------------------------------------------------------------------------

    def fit(self, data: Dataset) -> Self:
        self.users, self.items = data.users, data.items
        self._fit(data)
        return self

    @property
    def is_fitted(self) -> bool:
        return self.items is not None

    @property
    def n_items(self) -> int:
        self._check_fitted()
        assert self.items is not None
        return len(self.items)

    def _check_fitted(self) -> None:
        if self.items is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted")

    def _history(self, users: np.ndarray, history: sp.csr_matrix | None) -> sp.csr_matrix:
        if history is None:
            return empty_history(len(users), self.n_items)
        if history.shape != (len(users), self.n_items):
            raise ValueError(f"history must be {len(users)} x {self.n_items}, got {history.shape}")
        if type(history) is sp.csr_matrix and history.dtype == np.float32:
            return history  # as serving passes it: no copy, no format checks
        return sp.csr_matrix(history, dtype=np.float32)

    def has_signal(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Which rows the model can personalise: a known user, or (if it uses it) a history
        or a sequence of recent events."""
        users = np.asarray(users, dtype=np.int64)
        if not self.personalised:
            return np.ones(len(users), dtype=bool)
        known = users >= 0
        if self.uses_history and history is not None:
            known |= np.diff(history.indptr) > 0
        if self.uses_sequence and sequences is not None:
            known |= np.array([len(s) > 0 for s in sequences], dtype=bool)
        return known

    def _score_sequences(
        self, users: np.ndarray, history: sp.csr_matrix, sequences: Sequence[np.ndarray] | None
    ) -> np.ndarray:
        """Order-aware models override this; the default ignores ``sequences``."""
        return self._score(users, history)

    def _check_sequences(self, users: np.ndarray, sequences: Sequence[np.ndarray] | None) -> None:
        if sequences is not None and len(sequences) != len(users):
            raise ValueError(f"sequences must have one entry per user ({len(users)})")

    def score(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        self._check_sequences(users, sequences)
        return self._score_sequences(users, self._history(users, history), sequences)

    def recommend(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        n: int = 10,
        exclude: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n item indices and scores per user, without the items marked in ``exclude``."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        self._check_sequences(users, sequences)
        history = self._history(users, history)
        scores = self._score_sequences(users, history, sequences).astype(np.float32, copy=True)
        if exclude is not None and exclude.nnz:
            rows, cols = exclude.nonzero()
            scores[rows, cols] = -np.inf
        if self.uses_sequence:
            signal = self.has_signal(users, history, sequences)
        else:  # models without sequences may override has_signal(users, history)
            signal = self.has_signal(users, history)
        scores[~signal] = -np.inf
        return top_n(scores, n)

    supports_similar_items: ClassVar[bool] = False
    supports_similar_users: ClassVar[bool] = False
    predicts_ratings: ClassVar[bool] = False

    def similar_items(self, items: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Per item index (-1 allowed: an empty row), the n most similar other items."""
        raise NotImplementedError(f"{self.family} does not define item similarity")

    def similar_users(self, users: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Per user index (-1 allowed: an empty row), the n most similar other users."""
        raise NotImplementedError(f"{self.family} does not define user similarity")

    def predict_ratings(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted explicit ratings for (user, item) index pairs; unknown ids get a fallback."""
        raise NotImplementedError(f"{self.family} does not predict ratings")

    # -- new items without retraining -------------------------------------------------------

    def with_new_items(self, ids: Sequence[str], features: ItemFeatures) -> Self | None:
        """A model whose item space also holds ``ids``, placed from their content alone.

        ``features`` is aligned with ``ids`` (row k describes ``ids[k]``). Ids the model does
        not know are appended after its items, in order; ids it knows are re-placed from
        their (possibly changed) content where the family derives item vectors from content
        only. The result is a new object (``self`` is not changed, so it can keep serving)
        sharing what it can with ``self``. None: the family cannot place items it was not
        trained on (the default; content families and two-tower override it).
        """
        return None

    # -- persistence ----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        self._check_fitted()
        assert self.users is not None and self.items is not None
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {f"state.{k}": v for k, v in self._state().items()}
        arrays["vocab.users"] = self.users.to_array()
        arrays["vocab.items"] = self.items.to_array()
        np.savez(directory / ARRAYS_FILE, allow_pickle=False, **arrays)
        config = {"family": self.family, "config": self.config.model_dump(mode="json")}
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: Path) -> Self:
        meta = json.loads((directory / CONFIG_FILE).read_text())
        if meta.get("family") != cls.family:
            raise ValueError(
                f"{directory} holds a {meta.get('family')!r} model, not {cls.family!r}"
            )
        model = cls(cls.config_class.model_validate(meta["config"]))  # type: ignore[arg-type]
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        model.users = Vocabulary.from_array(arrays.pop("vocab.users"))
        model.items = Vocabulary.from_array(arrays.pop("vocab.items"))
        model._restore({k.removeprefix("state."): v for k, v in arrays.items()})
        return model


def grown_vocabulary(items: Vocabulary, ids: Sequence[str]) -> tuple[Vocabulary, np.ndarray]:
    """``items`` with the ids it lacks appended in order, and every id's index in it."""
    fresh = [i for i in dict.fromkeys(ids) if i not in items]
    grown = Vocabulary([*items.ids.tolist(), *fresh]) if fresh else items
    return grown, grown.index(ids)


def with_columns(matrix: sp.csr_matrix, n_cols: int) -> sp.csr_matrix:
    """The same CSR rows over ``n_cols`` columns (more, all empty), sharing the arrays."""
    return sp.csr_matrix(
        (matrix.data, matrix.indices, matrix.indptr), shape=(matrix.shape[0], n_cols), copy=False
    )


def csr_state(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    """A CSR matrix as named arrays, for ``_state``."""
    return {
        f"{prefix}.data": matrix.data,
        f"{prefix}.indices": matrix.indices,
        f"{prefix}.indptr": matrix.indptr,
        f"{prefix}.shape": np.array(matrix.shape, dtype=np.int64),
    }


def csr_restore(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(x) for x in arrays[f"{prefix}.shape"])
    return sp.csr_matrix(
        (arrays[f"{prefix}.data"], arrays[f"{prefix}.indices"], arrays[f"{prefix}.indptr"]),
        shape=shape,
    )
