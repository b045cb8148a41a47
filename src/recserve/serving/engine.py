"""The serving engine: champions loaded from the registry, answered with live store state.

Each request reads the user's current events from the store, so feedback posted a moment
ago is excluded from (and, for history-based models, feeds) the next answer. Champions are
swapped atomically: a request holds a reference to one immutable ``ServedModel`` for its
whole life, and a refresh replaces the mapping in one assignment.

The scenarios (``SCENARIOS``, ``FALLBACK``) and the request path after the model (filters,
diversity, pins, paging, explanations) live in ``scenarios.py`` and ``pipeline.py``; the
engine holds their shared state: per-model item catalogues and live counters.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recserve.algorithms import Recommender
from recserve.algorithms.global_ranking import GlobalRanking
from recserve.config import FeedbackKind, FeedbackType
from recserve.data import Vocabulary
from recserve.experiments.router import Arm, ExperimentRouter
from recserve.registry import ArtifactError, ModelRegistry, ModelVersion
from recserve.serving import scenarios
from recserve.serving.allowed import BlockedItems
from recserve.serving.catalogue import ItemCatalogue
from recserve.serving.content_neighbours import ContentNeighbours
from recserve.serving.explain import Explanation
from recserve.serving.history import HistoryCache, UserHistory
from recserve.serving.live import LiveCounter, LiveCountsFactory, local_counts
from recserve.serving.memory import release_freed_memory
from recserve.serving.options import ListOptions
from recserve.serving.retrieval import ANN_MIN_ITEMS, attach_neighbours, attach_retrieval
from recserve.serving.sessions import session_items
from recserve.serving.untrained import UntrainedPopular
from recserve.store import Store
from recserve.store.forgotten import snapshot_time, user_key

log = logging.getLogger(__name__)

# Every scenario a champion can be promoted to, and the scenario each falls back to.
SCENARIOS = (
    "recommended",
    "similar_items",
    "frequently_bought_together",
    "because_you_liked",
    "popular",
    "trending",
    "latest",
    "people_you_may_know",
    "session",
)
FALLBACK = {
    "recommended": "popular",
    "frequently_bought_together": "similar_items",
    "because_you_liked": "similar_items",
    "session": "similar_items",
}
# The scenarios the service needs before it reports ready; the others have fallbacks or
# answer 503 until trained.
REQUIRED_SCENARIOS = ("recommended", "similar_items", "popular")
# The scenarios whose champion answers through ``similar_items`` (the session scenario's
# neighbour fallback is the similar_items champion): they get a neighbour index at scale.
NEIGHBOUR_SCENARIOS = frozenset(
    {"similar_items", "frequently_bought_together", "because_you_liked"}
)
# The scenarios whose champion answers through its own top-n: they get a candidate index.
TOP_N_SCENARIOS = frozenset(SCENARIOS) - NEIGHBOUR_SCENARIOS - {"people_you_may_know"}


def _store_unreachable(exc: BaseException) -> bool:
    """A database outage (down, restarting, dropped connection, pool exhausted), as opposed
    to a bug; the API maps the same errors to 503 ``database_unavailable``."""
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated


class ModelNotReady(RuntimeError):
    """No champion has been trained and promoted for the scenario yet."""


@dataclass(frozen=True)
class ServedModel:
    version: ModelVersion
    model: Recommender[Any]
    blocked: BlockedItems  # model items hidden or deleted since training

    @property
    def ref(self) -> str:
        return self.version.ref


@dataclass(frozen=True)
class RecommendationList:
    item_ids: list[str]
    scores: list[float]
    model: str
    recommendation_id: str
    explanations: list[Explanation] | None = None  # with ``explain``: one per item
    pinned: frozenset[str] = frozenset()  # items placed by a pin rule
    experiment: str | None = None  # served under this A/B experiment ...
    variant: str | None = None  # ... as this variant (recserve.experiments)
    reason: str | None = None  # why the list is shorter than asked (serving/reasons.py)


def new_recommendation_id() -> str:
    return uuid.uuid4().hex


class ServingEngine:
    ann_min_items: int = ANN_MIN_ITEMS  # the setting; app.py sets it from Settings

    def __init__(
        self, store: Store, registry: ModelRegistry, feedback_types: Mapping[str, FeedbackType]
    ):
        self.store = store
        self.registry = registry
        self.feedback_types = dict(feedback_types)
        self._served: dict[str, ServedModel] = {}
        self._refused: set[str] = set()  # refs that failed to load: not retried every poll
        self._refresh_lock = threading.Lock()
        self._catalogues: dict[str, ItemCatalogue] = {}  # model ref -> its item catalogue
        self._live: dict[str, LiveCounter] = {}  # model ref -> events counted since training
        # in-process by default; several replicas share counters (recserve.replication)
        self.live_counts_factory: LiveCountsFactory = local_counts
        self._state_lock = threading.Lock()
        # users' live histories: off unless the caller reports every write (observe_feedback,
        # forget_user), as the API does; app.py sizes it from Settings (serving/history.py)
        self.histories = HistoryCache(max_users=0)
        # content neighbours of items the similar-items champion never saw (fitted lazily)
        self.content_neighbours = ContentNeighbours(store)
        # popular before the first training, from the store's counts (serving/untrained.py)
        self.untrained_popular = UntrainedPopular(store, feedback_types, self._blocked_items)
        self._load_forgotten()  # privacy deletes: see the forgotten users block below
        # A/B experiments: see the experiments block below
        self.experiments = ExperimentRouter(store.experiments, self.load_version)

    # champions ----------------------------------------------------------------------------

    def refresh(self) -> list[str]:
        """Load champions that changed in the registry; returns the scenarios swapped.

        A champion that cannot be loaded is logged and skipped: the previous one keeps serving.
        A new content-capable champion then places the items inserted after its training
        snapshot (``catch_up_items``), so they stay recommendable across the swap.
        """
        swapped = self._load_champions()
        if swapped:
            spaces = [s.model.items for s in self._served.values()]
            self.content_neighbours.keep([v for v in spaces if v is not None])
            try:
                self.catch_up_items()
            except Exception:  # the champions serve anyway; the items wait for a retraining
                log.exception("placing items inserted since training failed")
            release_freed_memory()  # the replaced models' arrays, else RSS grows per swap
        return swapped

    def _load_champions(self) -> list[str]:
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
                if isinstance(model, GlobalRanking):
                    _ = model.order  # sorted now (~0.1 s at 1M items), not by a request
                loaded[scenario] = ServedModel(
                    ModelVersion(name, version, manifest), model, self._blocked_items(model)
                )
                log.info("serving %s for %s", ref, scenario)
            for scenario, served in loaded.items():  # faiss indexes at scale, as each is used
                if scenario in NEIGHBOUR_SCENARIOS:
                    attach_neighbours(served.model, self.ann_min_items)
                elif scenario in TOP_N_SCENARIOS:
                    attach_retrieval(served.model, self.ann_min_items)
            if loaded:
                self._served = {**current, **loaded}
            return sorted(loaded)

    def _blocked_items(self, model: Recommender[Any]) -> BlockedItems:
        """The model's items that are hidden or no longer in the store. The store's keys are
        read a page at a time and matched in bulk. Reading every row instead (a dict per
        item) made a 1M-item load take 52-60 s, against 12 s, and left the server at
        +591-618 MB above idle, against +422 MB (docs/benchmarks.md, Serving)."""
        items = model.items
        assert items is not None
        present = np.zeros(len(items), dtype=bool)
        for keys in self.store.items.key_chunks():
            found = items.index(keys)
            present[found[found >= 0]] = True
        hidden = items.index(self.store.items.keys_flagged("hidden"))
        blocked = ~present
        blocked[hidden[hidden >= 0]] = True
        return BlockedItems(blocked)

    def set_item_blocked(self, item_id: str, blocked: bool) -> None:
        """An item was hidden, shown or deleted: apply it to every served model at once."""
        self.untrained_popular.changed()
        models = [*self._served.values(), *self.experiments.models()]
        for served in {id(s): s for s in models}.values():
            assert served.model.items is not None
            index = served.model.items.get(item_id)
            if index >= 0:
                served.blocked.set(index, blocked)

    def served(self) -> dict[str, ServedModel]:
        return dict(self._served)

    def has_champion(self, scenario: str) -> bool:
        return scenario in self._served

    def _model(self, scenario: str) -> ServedModel:
        served = self._served.get(scenario)
        if served is None:
            raise ModelNotReady(f"no model is trained for {scenario!r} yet; run `recserve train`")
        return served

    @property
    def ready(self) -> bool:
        return all(s in self._served for s in REQUIRED_SCENARIOS)

    # requests -----------------------------------------------------------------------------

    def _history(self, user_id: str, items: Vocabulary) -> UserHistory:
        """The user's live history in the model's item space: from the history cache, else
        read from the store now (serving/history.py says when entries are dropped).

        When the store cannot be reached the answer comes from the model's trained state
        alone (an empty live history: models fall back to the user's training row), so
        recommendations go on through a database outage; counted in ``history_fallbacks``
        and logged (docs/reliability.md). The empty history is not cached."""
        try:
            return self.histories.get(
                user_id,
                items,
                lambda: self.store.feedback.user_events(user_id),
                self.feedback_types,
            )
        except Exception as exc:
            if not _store_unreachable(exc):
                raise
            self.history_fallbacks += 1
            now = time.monotonic()
            if now - self._fallback_logged_at >= 10.0:  # one line per 10 s of outage
                self._fallback_logged_at = now
                log.warning("store unreachable (%s): serving from trained state", exc)
            empty = sp.csr_matrix((1, len(items)), dtype=np.float32)
            return UserHistory(empty, empty, np.empty(0, dtype=np.int64))

    history_fallbacks = 0  # answers served without the live history (store unreachable)
    _fallback_logged_at = -np.inf

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

    # scenarios: see serving/scenarios.py ------------------------------------------------------

    def catalogue(self, served: ServedModel) -> ItemCatalogue:
        """The item catalogue of a served model's item space, built on first use."""
        items = served.model.items
        catalogue = self._catalogues.get(served.ref)
        if catalogue is None or catalogue.items is not items:  # new, or its item space grew
            with self._state_lock:
                catalogue = self._catalogues.get(served.ref)
                if catalogue is None or catalogue.items is not items:
                    assert served.model.items is not None
                    items = served.model.items
                    catalogue = ItemCatalogue(items, self.store.items.get_many(list(items.ids)))
                    live = self._live_refs()
                    self._catalogues = {
                        **{r: c for r, c in self._catalogues.items() if r in live},
                        served.ref: catalogue,
                    }
        return catalogue

    def items_changed(self, item_ids: Sequence[str]) -> None:
        """Items were created, changed or deleted: re-read their fields into the catalogues."""
        if not self._catalogues or not item_ids:
            return
        rows = self.store.items.get_many(list(dict.fromkeys(item_ids)))
        for catalogue in list(self._catalogues.values()):
            for item_id in item_ids:
                catalogue.update(item_id, rows.get(item_id))

    def live_counts(self, served: ServedModel) -> LiveCounter:
        items = served.model.items
        assert items is not None
        counts = self._live.get(served.ref)
        if counts is None or counts.items is not items:
            with self._state_lock:
                counts = self._live.get(served.ref)
                if counts is None or counts.items is not items:
                    if counts is None:
                        counts = self.live_counts_factory(served.ref, items)
                    else:
                        counts = counts.regrown(items)
                    live = self._live_refs()
                    self._live = {
                        **{r: c for r, c in self._live.items() if r in live},
                        served.ref: counts,
                    }
        return counts

    def observe_feedback(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Events just stored: count positive ones for the live popular and trending answers."""
        self.histories.invalidate({str(e["user_id"]) for e in events})  # before any return
        if "popular" not in self._served:
            self.untrained_popular.changed()
        targets = [s for s in map(self._served.get, ("popular", "trending")) if s is not None]
        targets += self.experiments.live_ranked()  # global-ranking variants count live too
        if not targets:
            return
        pairs = [
            (str(e["user_id"]), str(e["item_id"]))
            for e in events
            if self._is_positive(e.get("type"), e.get("value"))
        ]
        for served in {id(s): s for s in targets}.values():
            self.live_counts(served).add(pairs)

    def _is_positive(self, kind: Any, value: Any) -> bool:
        feedback = self.feedback_types.get(str(kind))
        if feedback is None:
            return False
        if feedback.kind == FeedbackKind.POSITIVE:
            return True
        if feedback.kind == FeedbackKind.RATING and value is not None:
            return feedback.positive_at_or_above is not None and (
                float(value) >= feedback.positive_at_or_above
            )
        return False

    def recommend(
        self, user_id: str, n: int = 10, options: ListOptions | None = None, *, log: bool = True
    ) -> RecommendationList:
        """Top-n for a user, without what they already gave feedback on; cold users get popular.
        Under a running experiment the user's variant answers and the list is logged (unless
        ``log`` is False: a batch export, which is not an impression). Before the first
        training every user gets popular (counted from the store)."""
        if "recommended" not in self._served:
            return self.popular(n, user_id, options)
        served, arm = self.served_for("recommended", user_id)
        result = scenarios.recommend(self, user_id, replace(options or ListOptions(), n=n), served)
        return self.served_under(arm, user_id, result, log)

    def served_under(
        self, arm: Arm | None, user_id: str, result: RecommendationList, log: bool
    ) -> RecommendationList:
        """The list tagged with the user's experiment variant, and logged when ``log``."""
        if arm is None:
            return result
        if log:
            return self.experiments.record(arm, user_id, result)
        return replace(result, experiment=arm.experiment_id, variant=arm.variant.name)

    def similar_items(
        self, item_id: str, n: int = 10, options: ListOptions | None = None
    ) -> RecommendationList:
        return scenarios.similar(
            self, "similar_items", item_id, replace(options or ListOptions(), n=n)
        )

    def bought_together(self, item_id: str, options: ListOptions) -> RecommendationList:
        """Frequently bought together; the similar-items champion when none is trained or it
        knows nothing about the item."""
        return scenarios.bought_together(self, item_id, options)

    def because_you_liked(
        self, user_id: str, options: ListOptions, anchors: int = 3
    ) -> scenarios.Groups:
        return scenarios.because_you_liked(self, user_id, options, anchors)

    def popular(
        self, n: int = 10, user_id: str | None = None, options: ListOptions | None = None
    ) -> RecommendationList:
        """The most popular items; with ``user_id``, without what that user has seen."""
        return self.global_ranking("popular", user_id, replace(options or ListOptions(), n=n))

    def global_ranking(
        self, scenario: str, user_id: str | None, options: ListOptions, *, log: bool = True
    ) -> RecommendationList:
        """popular, trending or latest, with live counters for the first two. With a user,
        under a running experiment on the scenario, the user's variant answers (logged
        unless ``log`` is False)."""
        if scenario == "popular" and "popular" not in self._served:
            return scenarios.untrained_popular(self, user_id, options)
        if user_id is None:
            return scenarios.global_ranking(self, scenario, None, options)
        served: ServedModel | None
        served, arm = self.served_for(scenario, user_id)
        if arm is not None and arm.variant.scenario is not None:
            scenario, served = arm.variant.scenario, None  # that champion, its own live counts
        result = scenarios.global_ranking(self, scenario, user_id, options, served)
        return self.served_under(arm, user_id, result, log)

    def people_you_may_know(self, user_id: str, n: int, offset: int = 0) -> scenarios.UserList:
        return scenarios.people_you_may_know(self, user_id, n, offset)

    def session(
        self, item_ids: Sequence[str], options: ListOptions, negative: Set[str] = frozenset()
    ) -> RecommendationList:
        """Recommendations for an anonymous session from its items, oldest first."""
        return scenarios.session(self, list(item_ids), options, negative)

    def session_by_id(self, session_id: str, options: ListOptions) -> RecommendationList:
        items, negative = session_items(self.store, session_id, self.feedback_types)
        return self.session(items, options, negative)

    def rank(self, user_id: str, item_ids: Sequence[str]) -> scenarios.RankedCandidates:
        """The recommended champion's order of a client's candidates; unknown ids last."""
        return scenarios.rank(self, user_id, list(item_ids))

    # new items through content: see Recommender.with_new_items ------------------------------

    def observe_items(self, item_ids: Sequence[str]) -> list[str]:
        """Items were created or changed: content-capable champions place them at once.

        Each served model that can (content families, two-tower) gets a copy whose item
        space also holds the new ids (changed ones re-encoded), with its ``blocked`` mask
        grown from the items' ``hidden`` flags; the copies replace the served models in one
        assignment, so a request sees either the old model or the new one, never a mix.
        The version (and ``ref``) stays the same: the model was not retrained. Returns the
        refs that were extended.
        """
        from recserve.data import ItemFeatures

        placing = Recommender.with_new_items
        if all(type(s.model).with_new_items is placing for s in self._served.values()):
            return []  # no served family can place new items: not even a store read
        rows = self.store.items.get_many(list(dict.fromkeys(item_ids)))
        ids = [i for i in dict.fromkeys(item_ids) if i in rows]  # deleted meanwhile: skip
        if not ids:
            return []
        features = ItemFeatures.from_rows(Vocabulary(ids), rows)
        with self._refresh_lock:  # no champion swap in between
            current = dict(self._served)
            grown: dict[int, ServedModel] = {}
            for served in {id(s): s for s in current.values()}.values():
                model = served.model.with_new_items(ids, features)
                if model is None:
                    continue
                assert model.items is not None
                added = model.items.ids[len(served.blocked) :]
                hidden = np.array([bool(rows[i]["hidden"]) for i in added], dtype=bool)
                grown[id(served)] = ServedModel(
                    served.version, model, served.blocked.extended(hidden)
                )
            if not grown:
                return []
            self._served = {s: grown.get(id(m), m) for s, m in current.items()}
            refs = {m.ref for m in grown.values()}
            with self._state_lock:  # catalogues of the old item spaces: rebuilt on next use
                self._catalogues = {r: c for r, c in self._catalogues.items() if r not in refs}
        return sorted(refs)

    def catch_up_items(self) -> list[str]:
        """Place the store's items that content-capable champions lack (items inserted after
        their training snapshot); call after a refresh that loaded a new champion. Returns
        the refs extended."""
        placing = Recommender.with_new_items
        known = [
            s.model.items
            for s in self._served.values()
            if type(s.model).with_new_items is not placing and s.model.items is not None
        ]
        if not known:
            return []
        missing: list[str] = []
        for keys in self.store.items.key_chunks():  # a page at a time, matched in bulk
            lacking = np.zeros(len(keys), dtype=bool)
            for items in known:
                lacking |= items.index(keys) < 0
            missing.extend(key for key, out in zip(keys, lacking, strict=True) if out)
        return self.observe_items(missing) if missing else []

    # forgotten users (privacy deletes): see recserve.store.forgotten -----------------------

    forgotten_reload_seconds: float = 2.0  # how often marks made by other replicas are read
    _forgotten: dict[str, float]  # user key -> time of the latest deletion
    _forgotten_read_at: float

    def _load_forgotten(self) -> None:
        """(Re)read every mark from the store, keeping newer local ones; on a store error the
        marks already held stay in use and the read is retried after the interval."""
        self._forgotten_read_at = time.monotonic()
        try:
            stored = self.store.forgotten.all()
        except Exception:  # the store is down: serving goes on with the marks it has
            log.warning("reading forgotten users failed; keeping the marks already known")
            stored = {}
        with self._state_lock:  # a mark added meanwhile by forget_user is kept
            held = getattr(self, "_forgotten", {})
            for key, at in held.items():
                if at > stored.get(key, -np.inf):
                    stored[key] = at
            self._forgotten = stored
        if any(at > held.get(key, -np.inf) for key, at in stored.items()):
            self.histories.clear()  # deleted through another replica: drop cached histories

    def forgotten_marks_fresh(self) -> bool:
        """Whether the deletion marks are recent enough to use without a store read."""
        return time.monotonic() - self._forgotten_read_at < self.forgotten_reload_seconds

    def _forgotten_marks(self) -> dict[str, float]:
        if not self.forgotten_marks_fresh():
            self._load_forgotten()
        return self._forgotten

    def forget_user(self, user_id: str, deleted_at: float | None = None) -> None:
        """The user was deleted (at ``deleted_at``; default: the time the store recorded):
        served models trained on data taken before then stop using them at once."""
        self.histories.invalidate([user_id])
        if deleted_at is None:
            deleted_at = self.store.forgotten.deleted_at(user_id)
            if deleted_at is None:
                return
        key = user_key(user_id)
        with self._state_lock:
            marks = dict(self._forgotten)
            marks[key] = max(deleted_at, marks.get(key, -np.inf))
            self._forgotten = marks

    def is_forgotten(self, user_id: str, served: ServedModel) -> bool:
        """Whether ``served`` must not use what it learnt about ``user_id``: the user was
        deleted after (or at) the model's data snapshot. A model trained on a snapshot taken
        after the deletion holds only the data of whoever uses the id since."""
        marks = self._forgotten_marks()
        if not marks:
            return False
        deleted_at = marks.get(user_key(user_id))
        if deleted_at is None:
            return False
        taken_at, _ = snapshot_time(served.version.manifest)
        return taken_at is None or taken_at <= deleted_at

    def user_index(self, served: ServedModel, user_id: str) -> int:
        """The user's index in the served model; -1 (unknown) when unknown or forgotten."""
        assert served.model.users is not None
        index = served.model.users.get(user_id)
        if index >= 0 and self.is_forgotten(user_id, served):
            return -1
        return index

    # A/B experiments: see recserve.experiments ---------------------------------------------

    def history_cached(self, user_id: str, scenario: str) -> bool:
        """Whether answering ``user_id`` on ``scenario`` needs no history read from the store:
        it is cached in the item space of each model that may answer (the user's experiment
        arm or the champion, then the champions of the FALLBACK chain)."""
        try:
            served, _ = self.served_for(scenario, user_id)
        except ModelNotReady:
            return False
        models = [served]
        while scenario in FALLBACK:
            scenario = FALLBACK[scenario]
            if scenario in self._served:
                models.append(self._served[scenario])
        return all(
            m.model.items is not None and self.histories.holds(user_id, m.model.items)
            for m in models
        )

    def served_for(self, scenario: str, user_id: str) -> tuple[ServedModel, Arm | None]:
        """The model that answers ``user_id`` on ``scenario``, and their experiment arm: the
        variant's model version, another scenario's champion, or the champion (control).
        A variant whose scenario has no champion here gets the champion, untagged."""
        arm = self.experiments.arm(scenario, user_id)
        if arm is not None:
            if arm.served is not None:
                return arm.served, arm
            if arm.variant.scenario is not None:
                other = self._served.get(arm.variant.scenario)
                return (other, arm) if other is not None else (self._model(scenario), None)
        return self._model(scenario), arm

    def load_version(self, ref: str) -> ServedModel:
        """A registered model version ready to serve (a served one is shared); raises
        ArtifactError for a missing or corrupt version."""
        for served in list(self._served.values()) + self.experiments.models():
            if served.ref == ref:
                return served
        name, _, version = ref.partition("/")
        if version not in self.registry.versions(name):
            raise ArtifactError(f"no model version {ref}")
        model = self.registry.load(name, version)
        manifest = self.registry.manifest(name, version)
        attach_retrieval(model, self.ann_min_items)
        return ServedModel(ModelVersion(name, version, manifest), model, self._blocked_items(model))

    def _live_refs(self) -> set[str]:
        """Refs whose catalogues are kept: champions and experiment variants."""
        return {s.ref for s in [*self._served.values(), *self.experiments.models()]}
