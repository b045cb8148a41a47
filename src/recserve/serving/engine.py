"""The serving engine: champions loaded from the registry, answered with live store state.

Each request reads the user's current events from the store, so feedback posted a moment
ago is excluded from (and, for history-based models, feeds) the next answer. Champions are
swapped atomically: a request holds a reference to one immutable ``ServedModel`` for its
whole life, and a refresh replaces the mapping in one assignment.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recserve.algorithms import Recommender
from recserve.algorithms.global_ranking import GlobalRanking
from recserve.config import FeedbackType
from recserve.data import Dataset, Vocabulary
from recserve.data.dataset import POSITIVE
from recserve.registry import ArtifactError, ModelRegistry, ModelVersion
from recserve.store import Store

log = logging.getLogger(__name__)

# Scenarios served in this version and the scenario each falls back to.
SCENARIOS = ("recommended", "similar_items", "popular")
FALLBACK = {"recommended": "popular"}


class ModelNotReady(RuntimeError):
    """No champion has been trained and promoted for the scenario yet."""


@dataclass(frozen=True)
class ServedModel:
    version: ModelVersion
    model: Recommender[Any]
    blocked: np.ndarray  # bool per model item: hidden or deleted since training

    @property
    def ref(self) -> str:
        return self.version.ref


@dataclass(frozen=True)
class UserHistory:
    """A user's live state in one model's item space."""

    positive: sp.csr_matrix  # 1 x items, summed confidence of positive events
    seen: sp.csr_matrix  # 1 x items, what never to recommend again
    sequence: np.ndarray  # item indices of positive events, oldest first


@dataclass(frozen=True)
class RecommendationList:
    item_ids: list[str]
    scores: list[float]
    model: str
    recommendation_id: str


def new_recommendation_id() -> str:
    return uuid.uuid4().hex


class ServingEngine:
    def __init__(
        self, store: Store, registry: ModelRegistry, feedback_types: Mapping[str, FeedbackType]
    ):
        self.store = store
        self.registry = registry
        self.feedback_types = dict(feedback_types)
        self._served: dict[str, ServedModel] = {}
        self._refused: set[str] = set()  # refs that failed to load: not retried every poll
        self._refresh_lock = threading.Lock()

    # champions ----------------------------------------------------------------------------

    def refresh(self) -> list[str]:
        """Load champions that changed in the registry; returns the scenarios swapped.

        A champion that cannot be loaded is logged and skipped: the previous one keeps serving.
        """
        with self._refresh_lock:
            champions = self.registry.champions()
            current = dict(self._served)
            loaded: dict[str, ServedModel] = {}
            for scenario, ref in champions.items():
                if (scenario in current and current[scenario].ref == ref) or ref in self._refused:
                    continue
                reuse = next((m for m in current.values() if m.ref == ref), None)
                reuse = reuse or next((m for m in loaded.values() if m.ref == ref), None)
                if reuse is not None:
                    loaded[scenario] = reuse
                    continue
                name, version = ref.split("/", 1)
                try:
                    model = self.registry.load(name, version)
                    manifest = self.registry.manifest(name, version)
                except ArtifactError as exc:
                    log.error("refusing champion %s for %s: %s", ref, scenario, exc)
                    self._refused.add(ref)
                    continue
                loaded[scenario] = ServedModel(
                    ModelVersion(name, version, manifest), model, self._blocked_mask(model)
                )
                log.info("serving %s for %s", ref, scenario)
            if loaded:
                self._served = {**current, **loaded}
            return sorted(loaded)

    def _blocked_mask(self, model: Recommender[Any]) -> np.ndarray:
        assert model.items is not None
        rows = self.store.items.get_many(list(model.items.ids))
        return np.fromiter(
            (item_id not in rows or bool(rows[item_id]["hidden"]) for item_id in model.items.ids),
            dtype=bool,
            count=len(model.items),
        )

    def set_item_blocked(self, item_id: str, blocked: bool) -> None:
        """An item was hidden, shown or deleted: apply it to every served model at once."""
        for served in {id(s): s for s in self._served.values()}.values():
            assert served.model.items is not None
            index = served.model.items.get(item_id)
            if index >= 0:
                served.blocked[index] = blocked

    def served(self) -> dict[str, ServedModel]:
        return dict(self._served)

    def _model(self, scenario: str) -> ServedModel:
        served = self._served.get(scenario)
        if served is None:
            raise ModelNotReady(f"no model is trained for {scenario!r} yet; run `recserve train`")
        return served

    @property
    def ready(self) -> bool:
        return all(s in self._served for s in SCENARIOS)

    # requests -----------------------------------------------------------------------------

    def _history(self, user_id: str, items: Vocabulary) -> UserHistory:
        """The user's live history in the model's item space, read from the store now."""
        events = self.store.feedback.user_history(user_id)
        if not events:
            empty = sp.csr_matrix((1, len(items)), dtype=np.float32)
            return UserHistory(empty, empty, np.empty(0, dtype=np.int64))
        item_ids, types, values, timestamps = zip(*events, strict=True)
        data = Dataset.from_events(
            np.full(len(events), user_id, dtype=object),
            np.array(item_ids, dtype=object),
            np.array(types, dtype=object),
            np.array([np.nan if v is None else v for v in values], dtype=np.float64),
            np.array(timestamps, dtype=np.float64),
            self.feedback_types,
            users=Vocabulary([user_id]),
            items=items,
        )
        positive = (data.kind == POSITIVE) & (data.item >= 0)  # events come oldest first
        sequence = data.item[positive].astype(np.int64)
        return UserHistory(data.positive_matrix(), data.seen_matrix(), sequence)

    @staticmethod
    def _exclusion(served: ServedModel, seen: sp.csr_matrix | None) -> sp.csr_matrix:
        """Blocked items (hidden, deleted) plus what the user has seen, as one CSR row."""
        blocked = np.flatnonzero(served.blocked)
        row = sp.csr_matrix(
            (np.ones(len(blocked), np.float32), (np.zeros(len(blocked), int), blocked)),
            shape=(1, len(served.blocked)),
        )
        return row if seen is None else sp.csr_matrix(row + seen)

    @staticmethod
    def _to_list(served: ServedModel, ids: np.ndarray, scores: np.ndarray) -> RecommendationList:
        keep = ids >= 0
        assert served.model.items is not None
        return RecommendationList(
            item_ids=served.model.items.id_of(ids[keep]).tolist(),
            scores=[float(s) for s in scores[keep]],
            model=served.ref,
            recommendation_id=new_recommendation_id(),
        )

    def recommend(self, user_id: str, n: int) -> RecommendationList:
        """Top-n for a user, without what they already gave feedback on; cold users get popular."""
        scenario = "recommended"
        while True:
            served = self._model(scenario)
            model = served.model
            assert model.users is not None and model.items is not None
            live = self._history(user_id, model.items)
            users = np.array([model.users.get(user_id)])
            sequences = [live.sequence]
            has_signal = (
                model.has_signal(users, live.positive, sequences)
                if model.uses_sequence
                else model.has_signal(users, live.positive)
            )
            if has_signal[0] or scenario not in FALLBACK:
                exclude = self._exclusion(served, live.seen)
                ids, scores = model.recommend(users, live.positive, n, exclude, sequences)
                return self._to_list(served, ids[0], scores[0])
            scenario = FALLBACK[scenario]

    def similar_items(self, item_id: str, n: int) -> RecommendationList:
        served = self._model("similar_items")
        assert served.model.items is not None
        index = served.model.items.get(item_id)
        ids, scores = served.model.similar_items(np.array([index]), n + int(served.blocked.sum()))
        keep = ids[0] >= 0
        keep[keep] &= ~served.blocked[ids[0][keep]]
        return self._to_list(served, ids[0][keep][:n], scores[0][keep][:n])

    def popular(self, n: int, user_id: str | None = None) -> RecommendationList:
        """The most popular items; with ``user_id``, without what that user has seen."""
        served = self._model("popular")
        model = served.model
        assert model.items is not None
        seen = self._history(user_id, model.items).seen if user_id else None
        if isinstance(model, GlobalRanking) and seen is None and not served.blocked.any():
            ids, scores = model.ranking(n)
            return self._to_list(served, ids, scores)
        ids, scores = model.recommend(np.array([-1]), None, n, self._exclusion(served, seen))
        return self._to_list(served, ids[0], scores[0])
