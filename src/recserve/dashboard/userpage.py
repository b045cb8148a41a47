"""A user's recommendations in every scenario, asked of the serving engine exactly as the API
routes ask (``ListOptions`` with ``explain``), for the dashboard's user page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recserve.api.routes.list_params import list_items
from recserve.schemas.scenarios import ListItem
from recserve.serving import ModelNotReady, RecommendationList, ServingEngine, scenarios
from recserve.serving.options import ListOptions

N = 10


@dataclass
class Section:
    """One scenario's answer: a flat list, groups (because you liked) or people."""

    scenario: str
    title: str
    model: str | None = None
    items: list[ListItem] = field(default_factory=list)
    groups: list[tuple[str, list[ListItem]]] = field(default_factory=list)
    people: list[tuple[str, float]] = field(default_factory=list)
    unavailable: str | None = None  # why there is no list (no model trained yet)
    variant: str | None = None  # "experiment / variant" when an A/B experiment answers
    themes: list[str] = field(default_factory=list)  # the LLM's names for the list
    note: str | None = None  # what the LLM stage did (llm_section.py)

    def item_ids(self) -> list[str]:
        """Every item id the section shows, explanations' items included."""
        ids = [anchor for anchor, _ in self.groups]
        for items in [self.items, *(items for _, items in self.groups)]:
            for item in items:
                ids.append(item.item_id)
                if item.explanation is not None:
                    ids += [r.item_id for r in item.explanation.items]
        return ids


def _flat(scenario: str, title: str, call: Callable[[ListOptions], RecommendationList]) -> Section:
    section = Section(scenario, title)
    try:
        result = call(ListOptions(n=N, explain=True))
    except ModelNotReady as exc:
        section.unavailable = str(exc)
        return section
    section.model, section.items = result.model, list_items(result)
    return section


def user_sections(engine: ServingEngine, user_id: str) -> list[Section]:
    """Recommended, because you liked, popular, trending, latest, people you may know."""
    sections = [
        _recommended(engine, user_id),
        _because_you_liked(engine, user_id),
        _flat("popular", "Popular", lambda o: engine.popular(o, user_id)),
        _flat("trending", "Trending now", lambda o: engine.global_ranking("trending", user_id, o)),
        _flat("latest", "Latest", lambda o: engine.global_ranking("latest", user_id, o)),
        _people(engine, user_id),
    ]
    return sections


def _recommended(engine: ServingEngine, user_id: str) -> Section:
    """As ``engine.recommend`` answers, the user's experiment variant included, but without
    logging the list as an experiment impression: a preview here is not traffic."""
    served: list[Any] = []

    def call(options: ListOptions) -> RecommendationList:
        if not engine.has_champion("recommended"):  # before training: popular, as the API
            return engine.popular(options, user_id)
        model, arm = engine.served_for("recommended", user_id)
        served.append(arm)
        return scenarios.recommend(engine, user_id, options, model)

    section = _flat("recommended", "Recommended for you", call)
    arm = served[0] if served else None
    if arm is not None:
        section.variant = f"{arm.experiment_id} / {arm.variant.name}"
    return section


def _because_you_liked(engine: ServingEngine, user_id: str) -> Section:
    section = Section("because_you_liked", "Because you liked")
    try:
        result = engine.because_you_liked(user_id, ListOptions(n=5, explain=True), 3)
    except ModelNotReady as exc:
        section.unavailable = str(exc)
        return section
    section.model = result.model
    section.groups = [(anchor, list_items(r)) for anchor, r in result.groups]
    return section


def _people(engine: ServingEngine, user_id: str) -> Section:
    section = Section("people_you_may_know", "People you may know")
    try:
        result = engine.people_you_may_know(user_id, N, 0)
    except ModelNotReady as exc:
        section.unavailable = str(exc)
        return section
    section.model = result.model
    section.people = list(zip(result.user_ids, result.scores, strict=True))
    return section


def titles(store: Any, item_ids: list[str]) -> dict[str, str]:
    """Item id -> title (the id itself when untitled) for the ids shown on a page."""
    rows = store.items.get_many(list(dict.fromkeys(item_ids)))
    return {i: (rows[i].get("title") or i) if i in rows else i for i in item_ids}
