"""Hybrid: weighted rank fusion of several member models, with cold-start switching.

Fusion is weighted reciprocal-rank fusion (Cormack, Clarke & Buettcher, SIGIR 2009): a
member ranking item i at (1-based) position r adds ``weight / (rrf_k + r)``. Members'
scores live on incomparable scales (cosine in [0, 1], BM25 sums, ALS dot products,
popularity counts, days of age), and a min-max normalisation would let one outlier, or the
shape of a member's tail, decide the blend; ranks need no calibration, and RRF has one
well-studied constant. Tied scores share the best rank of their group, so a member that
cannot tell items apart (all zero) gives them equal credit; only each member's top
``depth`` ranks count, and items without a finite score get nothing from that member.

Switching, per request row, by each member's role (``auto``: non-personalised members are
``fallback``, content models ``content``, the rest ``collaborative``):

1. some collaborative member has signal: every member with signal is fused;
2. else some content member has signal (the user has a history of items with text): the
   content members with signal are fused;
3. else the fallback members (popularity, trending, ...) are fused.

A member "has signal" on a row when its ``has_signal`` says so *and* its scores there are not
all equal: item-kNN has a history for a user whose items have no neighbours, but nothing to
rank with. As the protocol asks, an unknown user without a history gets no row (the caller
falls back); a known user nobody can personalise for gets the fallback members' ranking.

Members are fitted on the same snapshot. ``save`` stores member k's arrays under
``member{k}.`` inside the hybrid's own arrays; their configs are in the hybrid's config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field, model_validator

from recserve.algorithms.base import REGISTERED, ModelConfig, Recommender, top_n
from recserve.algorithms.memo import MemoisedTopN
from recserve.data import Dataset

Role = Literal["auto", "collaborative", "content", "fallback"]


class MemberSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    family: str
    params: dict[str, Any] = Field(default_factory=dict)
    weight: float = Field(default=1.0, gt=0, le=1_000)
    role: Role = "auto"

    @model_validator(mode="after")
    def _known_family_with_valid_params(self) -> MemberSpec:
        cls = REGISTERED.get(self.family)
        if cls is None:
            raise ValueError(f"unknown model family {self.family!r}; known: {sorted(REGISTERED)}")
        cls.config_class(**self.params)  # raises a ValidationError for bad parameters
        return self

    def resolved_role(self) -> str:
        if self.role != "auto":
            return self.role
        cls = REGISTERED[self.family]
        if not cls.personalised:
            return "fallback"
        return "content" if getattr(cls, "content_based", False) else "collaborative"


def _default_members() -> tuple[MemberSpec, ...]:
    return (
        MemberSpec(family="item_knn", params={"neighbours": 100}, weight=1.0),
        MemberSpec(family="tfidf", weight=0.5),
        MemberSpec(family="popular", weight=0.2),
    )


class HybridConfig(ModelConfig):
    members: tuple[MemberSpec, ...] = Field(default_factory=_default_members, min_length=1)
    rrf_k: float = Field(default=60.0, gt=0, le=100_000, description="RRF's rank offset.")
    depth: int = Field(default=1000, ge=1, le=1_000_000, description="Ranks counted per member.")


def reciprocal_rank(scores: np.ndarray, depth: int, k: float) -> np.ndarray:
    """Per row, ``1 / (k + r)`` for items ranked ``r <= depth`` (ties share the best rank)."""
    out = np.zeros(scores.shape, dtype=np.float64)
    for r, row in enumerate(scores):
        finite = np.flatnonzero(np.isfinite(row))
        if not len(finite):
            continue
        values = row[finite]
        d = min(depth, len(values))
        threshold = np.partition(values, len(values) - d)[len(values) - d]  # d-th largest
        chosen = finite[values >= threshold]
        descending = -np.sort(-row[chosen])
        greater = np.searchsorted(-descending, -row[chosen], side="left")  # strictly better
        out[r, chosen] = 1.0 / (k + 1.0 + greater)
    return out


def _informative(scores: np.ndarray) -> np.ndarray:
    """Rows whose finite scores are not all equal: something to rank with."""
    finite = np.isfinite(scores)
    high = np.where(finite, scores, -np.inf).max(axis=1, initial=-np.inf)
    low = np.where(finite, scores, np.inf).min(axis=1, initial=np.inf)
    return finite.any(axis=1) & (high > low)


def _someone(
    users: np.ndarray, history: sp.csr_matrix, sequences: Sequence[np.ndarray] | None
) -> np.ndarray:
    """Rows about a known user, or with a history or a sequence: not for the caller's fallback."""
    rows = (users >= 0) | (np.diff(history.indptr) > 0)
    if sequences is not None:
        rows |= np.array([len(s) > 0 for s in sequences], dtype=bool)
    return rows


class Hybrid(MemoisedTopN, Recommender[HybridConfig]):
    """One user's list is memoised (``MemoisedTopN``): a fusion scores every item once per
    member, and a user's repeated request with nothing changed is then a lookup."""

    family = "hybrid"
    config_class = HybridConfig
    uses_history = True

    def __init__(self, config: HybridConfig | None = None, **params: Any):
        super().__init__(config, **params)
        self.members: list[Recommender[Any]] = []
        classes = [REGISTERED[m.family] for m in self.config.members]
        # what the hybrid offers follows its members
        self.supports_similar_items = any(c.supports_similar_items for c in classes)  # type: ignore[misc]
        self.supports_similar_users = any(c.supports_similar_users for c in classes)  # type: ignore[misc]
        self.uses_sequence = any(c.uses_sequence for c in classes)  # type: ignore[misc]
        self.roles = [m.resolved_role() for m in self.config.members]

    @classmethod
    def from_fitted(
        cls,
        members: Sequence[Recommender[Any]],
        data: Dataset,
        weights: Sequence[float] | None = None,
    ) -> Hybrid:
        """Fusion (equal weights unless ``weights`` are given) of models already fitted on
        ``data``, without fitting them again (a model search scores the fusion of its best
        trials this way); the result is the same as ``Hybrid(members=...).fit(data)`` for
        deterministic members."""
        weights = [1.0] * len(members) if weights is None else list(weights)
        if len(weights) != len(members):
            raise ValueError(f"{len(members)} members but {len(weights)} weights")
        specs = [
            MemberSpec(family=m.family, params=m.config.model_dump(), weight=w)
            for m, w in zip(members, weights, strict=True)
        ]
        hybrid = cls(members=tuple(specs))
        if any(m.items is not data.items and m.items != data.items for m in members):
            raise ValueError("every member must be fitted on the same data")
        hybrid.users, hybrid.items = data.users, data.items
        hybrid.members = list(members)
        return hybrid

    def _new_members(self) -> list[Recommender[Any]]:
        return [REGISTERED[m.family](**m.params) for m in self.config.members]

    def _fit(self, data: Dataset) -> None:
        self.members = [member.fit(data) for member in self._new_members()]

    # scoring --------------------------------------------------------------------------------

    def _member_signal(
        self,
        member: Recommender[Any],
        users: np.ndarray,
        history: sp.csr_matrix,
        sequences: Sequence[np.ndarray] | None,
    ) -> np.ndarray:
        if member.uses_sequence:
            return member.has_signal(users, history, sequences)
        return member.has_signal(users, history)

    def _tiers(
        self, users: np.ndarray, history: sp.csr_matrix, sequences: Sequence[np.ndarray] | None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Each member's scores and the rows where it takes part in the fusion."""
        scores, signal = [], []
        for member in self.members:
            s = np.asarray(member.score(users, history, sequences), dtype=np.float32)
            scores.append(s)
            signal.append(self._member_signal(member, users, history, sequences) & _informative(s))
        roles = np.array(self.roles)
        n = len(users)

        def any_of(role: str) -> np.ndarray:
            rows = [signal[k] for k in np.flatnonzero(roles == role)]
            return np.logical_or.reduce(rows) if rows else np.zeros(n, dtype=bool)

        warm = any_of("collaborative")
        content = ~warm & any_of("content")
        cold = ~warm & ~content & _someone(users, history, sequences)
        takes_part = []
        for k, role in enumerate(self.roles):
            rows = warm & signal[k]
            if role == "content":
                rows |= content & signal[k]
            if role == "fallback":
                rows |= cold
            takes_part.append(rows)
        return scores, takes_part

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self._score_sequences(users, history, None)

    def _score_sequences(
        self, users: np.ndarray, history: sp.csr_matrix, sequences: Sequence[np.ndarray] | None
    ) -> np.ndarray:
        """Fused scores; ``sequences`` go to the order-aware members."""
        scores, takes_part = self._tiers(users, history, sequences)
        fused = np.zeros((len(users), self.n_items), dtype=np.float64)
        for spec, s, rows in zip(self.config.members, scores, takes_part, strict=True):
            if rows.any():
                credit = reciprocal_rank(s[rows], self.config.depth, self.config.rrf_k)
                fused[rows] += spec.weight * credit
        fused[~np.logical_or.reduce(takes_part)] = -np.inf
        return fused.astype(np.float32)

    def has_signal(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Rows some tier can serve, from the members' ``has_signal`` alone (no scoring).

        With a fallback member this is exact: every known user or user with a history.
        Without one it may say yes where no member turns out informative; ``score`` gives
        such rows ``-inf``, so ``recommend`` returns an empty (all ``-1``) row for them.
        """
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        history = self._history(users, history)
        signal = np.zeros(len(users), dtype=bool)
        for member, role in zip(self.members, self.roles, strict=True):
            if role == "fallback":
                signal |= _someone(users, history, sequences)
            else:
                signal |= self._member_signal(member, users, history, sequences)
        return signal

    # neighbours -----------------------------------------------------------------------------

    def _fuse_neighbours(
        self, method: str, ids: np.ndarray, n: int, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        fused = np.zeros((len(ids), size), dtype=np.float64)
        for spec, member in zip(self.config.members, self.members, strict=True):
            if not getattr(member, f"supports_{method}"):
                continue
            found, _ = getattr(member, method)(ids, min(self.config.depth, size))
            rank = np.broadcast_to(np.arange(1, found.shape[1] + 1), found.shape)
            rows = np.broadcast_to(np.arange(len(ids))[:, None], found.shape)
            ok = found >= 0
            fused[rows[ok], found[ok]] += spec.weight / (self.config.rrf_k + rank[ok])
        fused[fused <= 0] = -np.inf
        return top_n(fused.astype(np.float32), n)

    def similar_items(self, items: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Items fused from the members that define item similarity."""
        self._check_fitted()
        if not self.supports_similar_items:
            return super().similar_items(items, n)
        return self._fuse_neighbours("similar_items", np.asarray(items, np.int64), n, self.n_items)

    def similar_users(self, users: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Users fused from the members that define user similarity."""
        self._check_fitted()
        if not self.supports_similar_users:
            return super().similar_users(users, n)
        assert self.users is not None
        return self._fuse_neighbours(
            "similar_users", np.asarray(users, np.int64), n, len(self.users)
        )

    # persistence ----------------------------------------------------------------------------

    def _state(self) -> dict[str, np.ndarray]:
        return {
            f"member{k}.{name}": array
            for k, member in enumerate(self.members)
            for name, array in member._state().items()
        }

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.members = self._new_members()
        for k, member in enumerate(self.members):
            prefix = f"member{k}."
            member.users, member.items = self.users, self.items
            member._restore(
                {
                    name.removeprefix(prefix): a
                    for name, a in arrays.items()
                    if name.startswith(prefix)
                }
            )
