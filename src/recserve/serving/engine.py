"""The serving engine: champions loaded from the registry, answered with live store state.

Each request reads the user's current events (``history_reader.py``), so feedback posted a
moment ago is excluded from (and, for history-based models, feeds) the next answer. The
engine composes one object per idea and dispatches each request to its scenario:

- champions and their atomic swaps: ``champions.py``, new items placed through content:
  ``new_items.py``;
- users' live histories: ``history_reader.py`` over ``history.py``'s cache;
- per-model catalogues and live counts: ``model_state.py``;
- privacy deletes: ``forgotten_users.py``;
- A/B experiments: ``recserve.experiments.router``;
- each scenario's logic: ``scenarios.py``, which reads the engine through ``context.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence, Set
from typing import Any

from recserve.config import FeedbackKind, FeedbackType
from recserve.data import Vocabulary
from recserve.experiments.router import Arm, ExperimentRouter
from recserve.registry import ModelRegistry
from recserve.serving import arms, new_items, scenarios
from recserve.serving.catalogue import ItemCatalogue
from recserve.serving.champions import Champions, set_blocked
from recserve.serving.content_neighbours import ContentNeighbours
from recserve.serving.forgotten_users import ForgottenUsers
from recserve.serving.history import HistoryCache, UserHistory
from recserve.serving.history_reader import HistoryReader
from recserve.serving.live import LiveCounter
from recserve.serving.memory import release_freed_memory
from recserve.serving.model_state import ModelState
from recserve.serving.options import ListOptions
from recserve.serving.retrieval import ANN_MIN_ITEMS
from recserve.serving.served import ModelNotReady, RecommendationList, ServedModel
from recserve.serving.sessions import session_items
from recserve.serving.untrained import UntrainedPopular
from recserve.store import Store

log = logging.getLogger(__name__)


def _options(n_or_options: ListOptions | int) -> ListOptions:
    """A list's options; a bare ``n`` means the defaults with that length."""
    if isinstance(n_or_options, int):
        return ListOptions(n=n_or_options)
    return n_or_options


class ServingEngine:
    def __init__(
        self,
        store: Store,
        registry: ModelRegistry,
        feedback_types: Mapping[str, FeedbackType],
        *,
        histories: HistoryCache | None = None,
        ann_min_items: int = ANN_MIN_ITEMS,
    ):
        """``histories``: users' live histories, cached between requests; off by default,
        because a cache is right only when the caller reports every write
        (``observe_feedback``, ``forget_user``), as the API does (serving/history.py).
        ``ann_min_items``: the catalogue size from which champions answer through faiss."""
        self.store = store
        self.registry = registry
        self.feedback_types = dict(feedback_types)
        cache = histories if histories is not None else HistoryCache(max_users=0)
        self.histories_reader = HistoryReader(store, self.feedback_types, cache)
        self.champions = Champions(store, registry, ann_min_items)
        # catalogues and live counts (in-process; replicas share counts through Redis)
        self.model_state = ModelState(store, self._live_refs)
        # content neighbours of items the similar-items champion never saw (fitted lazily)
        self.content_neighbours = ContentNeighbours(store)
        # popular before the first training, from the store's counts (serving/untrained.py)
        self.untrained_popular = UntrainedPopular(
            store, feedback_types, self.champions.blocked_items
        )
        self.forgotten = ForgottenUsers(store, on_new_marks=cache.clear)
        self.experiments = ExperimentRouter(store.experiments, self.load_version)

    @property
    def histories(self) -> HistoryCache:
        """Users' live histories, as the reader caches them (one object, never replaced)."""
        return self.histories_reader.cache

    # champions ----------------------------------------------------------------------------

    def refresh(self) -> list[str]:
        """Load champions that changed in the registry; returns the scenarios swapped.

        A champion that cannot be loaded is logged and skipped: the previous one keeps serving.
        A new content-capable champion then places the items inserted after its training
        snapshot (``catch_up_items``), so they stay recommendable across the swap.
        """
        swapped = self.champions.load()
        if swapped:
            spaces = [s.model.items for s in self.champions.all().values()]
            self.content_neighbours.keep([v for v in spaces if v is not None])
            try:
                self.catch_up_items()
            except Exception:  # the champions serve anyway; the items wait for a retraining
                log.exception("placing items inserted since training failed")
            release_freed_memory()  # the replaced models' arrays, else RSS grows per swap
        return swapped

    def served(self) -> dict[str, ServedModel]:
        return self.champions.all()

    def has_champion(self, scenario: str) -> bool:
        return self.champions.has(scenario)

    def model(self, scenario: str) -> ServedModel:
        return self.champions.require(scenario)

    @property
    def ready(self) -> bool:
        return self.champions.ready

    def set_item_blocked(self, item_id: str, blocked: bool) -> None:
        """An item was hidden, shown or deleted: apply it to every served model at once."""
        self.untrained_popular.changed()
        set_blocked([*self.champions.all().values(), *self.experiments.models()], item_id, blocked)

    def observe_items(self, item_ids: Sequence[str]) -> list[str]:
        """Items were created or changed: content-capable champions place them at once
        (serving/new_items.py). Returns the refs that were extended."""
        refs = new_items.place(self.champions, self.store, item_ids)
        self.model_state.drop_catalogues(set(refs))  # rebuilt for the grown item spaces
        return refs

    def catch_up_items(self) -> list[str]:
        """Place the store's items that content-capable champions lack (inserted after their
        training snapshot). Returns the refs extended."""
        missing = new_items.missing(self.champions, self.store)
        return self.observe_items(missing) if missing else []

    # what scenarios read (serving/context.py) -------------------------------------------------

    def history(self, user_id: str, items: Vocabulary) -> UserHistory:
        return self.histories_reader.read(user_id, items)

    def catalogue(self, served: ServedModel) -> ItemCatalogue:
        return self.model_state.catalogue(served)

    def live_counts(self, served: ServedModel) -> LiveCounter:
        return self.model_state.live_counts(served)

    def items_changed(self, item_ids: Sequence[str]) -> None:
        """Items were created, changed or deleted: re-read their fields into the catalogues."""
        self.model_state.items_changed(item_ids)

    def user_index(self, served: ServedModel, user_id: str) -> int:
        """The user's index in the served model; -1 (unknown) when unknown or forgotten."""
        assert served.model.users is not None
        index = served.model.users.get(user_id)
        if index >= 0 and self.forgotten.applies(user_id, served):
            return -1
        return index

    def is_forgotten(self, user_id: str, served: ServedModel) -> bool:
        return self.forgotten.applies(user_id, served)

    # writes the API reports ---------------------------------------------------------------

    def observe_feedback(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Events just stored: count positive ones for the live popular and trending answers."""
        self.histories.invalidate({str(e["user_id"]) for e in events})  # before any return
        if not self.has_champion("popular"):
            self.untrained_popular.changed()
        targets = [s for s in map(self.champions.get, ("popular", "trending")) if s is not None]
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
        value = None if value is None else float(value)
        return feedback is not None and feedback.classify(value) == FeedbackKind.POSITIVE

    def forget_user(self, user_id: str, deleted_at: float | None = None) -> None:
        """The user was deleted (at ``deleted_at``; default: the time the store recorded):
        served models trained on data taken before then stop using them at once."""
        self.histories.invalidate([user_id])
        self.forgotten.forget(user_id, deleted_at)

    # scenarios: see serving/scenarios.py ----------------------------------------------------

    def recommend(
        self, user_id: str, options: ListOptions | int = 10, *, log: bool = True
    ) -> RecommendationList:
        """Top-n for a user, without what they already gave feedback on; cold users get popular.
        Under a running experiment the user's variant answers and the list is logged (unless
        ``log`` is False: a batch export, which is not an impression). Before the first
        training every user gets popular (counted from the store)."""
        options = _options(options)
        if not self.has_champion("recommended"):
            return self.popular(options, user_id)
        served, arm = self.served_for("recommended", user_id)
        result = scenarios.recommend(self, user_id, options, served)
        return self.served_under(arm, user_id, result, log)

    def similar_items(self, item_id: str, options: ListOptions | int = 10) -> RecommendationList:
        return scenarios.similar(self, "similar_items", item_id, _options(options))

    def bought_together(self, item_id: str, options: ListOptions) -> RecommendationList:
        """Frequently bought together; the similar-items champion when none is trained or it
        knows nothing about the item."""
        return scenarios.bought_together(self, item_id, options)

    def because_you_liked(
        self, user_id: str, options: ListOptions, anchors: int = 3
    ) -> scenarios.Groups:
        return scenarios.because_you_liked(self, user_id, options, anchors)

    def popular(
        self, options: ListOptions | int = 10, user_id: str | None = None
    ) -> RecommendationList:
        """The most popular items; with ``user_id``, without what that user has seen."""
        return self.global_ranking("popular", user_id, _options(options))

    def global_ranking(
        self, scenario: str, user_id: str | None, options: ListOptions, *, log: bool = True
    ) -> RecommendationList:
        """popular, trending or latest, with live counters for the first two. With a user,
        under a running experiment on the scenario, the user's variant answers (logged
        unless ``log`` is False)."""
        if scenario == "popular" and not self.has_champion("popular"):
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

    # A/B experiments: see recserve.experiments ---------------------------------------------

    def served_for(self, scenario: str, user_id: str) -> tuple[ServedModel, Arm | None]:
        """The model that answers ``user_id`` on ``scenario`` and their arm (serving/arms.py)."""
        return arms.served_for(self.champions, self.experiments, scenario, user_id)

    def served_under(
        self, arm: Arm | None, user_id: str, result: RecommendationList, log: bool
    ) -> RecommendationList:
        """The list tagged with the user's experiment variant, and logged when ``log``."""
        return arms.tagged(self.experiments, arm, user_id, result, log)

    def history_cached(self, user_id: str, scenario: str) -> bool:
        """Whether answering ``user_id`` on ``scenario`` needs no history read from the store:
        it is cached in the item space of each model that may answer."""
        try:
            models = arms.answering(self.champions, self.experiments, scenario, user_id)
        except ModelNotReady:
            return False
        return all(
            m.model.items is not None and self.histories.holds(user_id, m.model.items)
            for m in models
        )

    def load_version(self, ref: str) -> ServedModel:
        """A registered model version ready to serve (a served one is shared); raises
        ArtifactError for a missing or corrupt version."""
        return self.champions.load_version(ref, self.experiments.models())

    def _live_refs(self) -> set[str]:
        """Refs whose catalogues and counts are kept: champions and experiment variants."""
        return {s.ref for s in [*self.champions.all().values(), *self.experiments.models()]}
