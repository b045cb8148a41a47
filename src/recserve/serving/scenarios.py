"""Each serving scenario as a function of the engine: which champion answers, what its
candidate source is, how it falls back, and how results are explained. The engine is
reached through its public interface (``ServingContext``, serving/context.py).

The engine's public methods call these; every item list goes through ``pipeline.run`` and
``finish`` so filters, diversity, pins, paging and explanations work alike everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recserve.algorithms.global_ranking import GlobalRanking
from recserve.algorithms.similarity import ItemNeighbourhood
from recserve.data import Vocabulary
from recserve.serving import content_neighbours, pipeline, reasons
from recserve.serving.allowed import Allowed
from recserve.serving.context import ServingContext
from recserve.serving.explain import Explanation, explain
from recserve.serving.live import popular_scores, trending_scores
from recserve.serving.options import ListOptions
from recserve.serving.rules import apply_pins
from recserve.serving.served import (
    FALLBACK,
    ModelNotReady,
    RecommendationList,
    ServedModel,
    new_recommendation_id,
)
from recserve.serving.social import blend, friends, friends_of_friends

if TYPE_CHECKING:
    from recserve.serving.history import UserHistory

Explainer = Callable[[np.ndarray], list[Explanation]]
SESSION_NEIGHBOURS = 200  # neighbours per session item summed by the similar-items fallback
MAX_SESSION_ITEMS = 50  # the most recent items of a session that feed the models


@dataclass(frozen=True)
class UserList:
    user_ids: list[str]
    scores: list[float]
    model: str
    recommendation_id: str


@dataclass(frozen=True)
class Groups:
    """Because you liked: (anchor item, the items similar to it) pairs, newest anchor first."""

    groups: list[tuple[str, RecommendationList]]
    model: str
    recommendation_id: str
    reason: str | None = None  # ``no_history`` when there is no group


@dataclass(frozen=True)
class RankedCandidates:
    item_ids: list[str]
    scores: list[float | None]  # None: the model does not know the item (ranked last)
    model: str
    recommendation_id: str


# -- shared ---------------------------------------------------------------------------------


def _items(served: ServedModel) -> Vocabulary:
    assert served.model.items is not None
    return served.model.items


def _catalogue(engine: ServingContext, served: ServedModel) -> pipeline.Catalogue:
    return partial(engine.catalogue, served)


def _row(indices: np.ndarray, n_items: int, weights: np.ndarray | None = None) -> sp.csr_matrix:
    """A 1 x n_items CSR row with ``weights`` (default 1) at ``indices`` (duplicates summed)."""
    values = np.ones(len(indices), np.float32) if weights is None else weights
    row = sp.csr_matrix(
        (values, (np.zeros(len(indices), dtype=np.int64), indices)), shape=(1, n_items)
    )
    row.sum_duplicates()
    return row


def _valid_pins(engine: ServingContext, options: ListOptions) -> list[tuple[str, int]]:
    """Pins of items that exist and are not hidden: a promotion never shows a hidden item."""
    if not options.pins:
        return []
    rows = engine.store.items.get_many(list(dict.fromkeys(i for i, _ in options.pins)))
    return [(i, p) for i, p in options.pins if i in rows and not rows[i]["hidden"]]


def finish(
    engine: ServingContext,
    served: ServedModel,
    ranked: pipeline.Ranked,
    options: ListOptions,
    explainer: Explainer | None = None,
) -> RecommendationList:
    """Pins, the page, and (with ``explain``) one explanation per item on it."""
    assert served.model.items is not None
    item_ids: list[str] = served.model.items.id_of(ranked.indices).tolist()
    scores = [float(s) for s in ranked.scores]
    pinned: set[str] = set()
    if options.pins:
        item_ids, scores, pinned = apply_pins(item_ids, scores, _valid_pins(engine, options))
    page = slice(options.offset, options.offset + options.n)
    item_ids, scores = item_ids[page], scores[page]
    reason = None
    if len(item_ids) < options.n:
        reason = ranked.reason or reasons.NO_MORE_ITEMS
    explanations = None
    if options.explain:
        indices = served.model.items.index(item_ids)
        explanations = [
            Explanation("pinned") if item_id in pinned else Explanation("popular")
            for item_id in item_ids
        ]
        rows = [
            k for k, item_id in enumerate(item_ids) if indices[k] >= 0 and item_id not in pinned
        ]
        if explainer is not None and rows:
            for k, found in zip(rows, explainer(indices[rows]), strict=True):
                explanations[k] = found
    return RecommendationList(
        item_ids=item_ids,
        scores=scores,
        model=served.ref,
        recommendation_id=new_recommendation_id(),
        explanations=explanations,
        pinned=frozenset(pinned),
        reason=reason,
    )


def _similar_champion(engine: ServingContext) -> Any:
    served = engine.served().get("similar_items")
    return served.model if served is not None else None


def _history_explainer(
    engine: ServingContext, served: ServedModel, history: sp.csr_matrix
) -> Explainer:
    return lambda indices: explain(served.model, history, indices, _similar_champion(engine))


def _fixed_explainer(reason: str, items: tuple[tuple[str, float], ...] = ()) -> Explainer:
    return lambda indices: [Explanation(reason, items) for _ in indices]


# -- recommended for you --------------------------------------------------------------------


@dataclass(frozen=True)
class _Personal:
    served: ServedModel
    live: UserHistory
    users: np.ndarray
    sequences: list[np.ndarray]


def _personal(
    engine: ServingContext, user_id: str, first: ServedModel | None = None
) -> _Personal | None:
    """The first model of the recommended FALLBACK chain that can personalise for the user;
    ``first`` (an experiment variant's model) stands in for the recommended champion.
    None: the chain reached popular, which has no champion yet (``untrained_popular``).
    Without a recommended champion the chain starts at popular."""
    scenario = (
        "recommended" if first is not None or engine.has_champion("recommended") else "popular"
    )
    while True:
        if first is None and scenario == "popular" and "popular" not in engine.served():
            return None
        served = first if first is not None else engine.model(scenario)
        first = None
        model = served.model
        assert model.users is not None and model.items is not None
        live = engine.history(user_id, model.items)
        users = np.array([engine.user_index(served, user_id)])  # -1: unknown or forgotten
        sequences = [live.sequence]
        signal = (
            model.has_signal(users, live.positive, sequences)
            if model.uses_sequence
            else model.has_signal(users, live.positive)
        )
        if signal[0] or scenario not in FALLBACK:
            return _Personal(served, live, users, sequences)
        scenario = FALLBACK[scenario]


def recommend(
    engine: ServingContext, user_id: str, options: ListOptions, first: ServedModel | None = None
) -> RecommendationList:
    """The recommended champion (or ``first``, an experiment variant's model); a user it
    cannot personalise gets popular (FALLBACK)."""
    chosen = _personal(engine, user_id, first)
    if chosen is None:
        return untrained_popular(engine, user_id, options)
    served, live = chosen.served, chosen.live
    model = served.model
    if isinstance(model, GlobalRanking) and served is engine.served().get("popular"):
        return global_ranking(engine, "popular", user_id, options)  # with live counters
    allowed = pipeline.allowed_items(
        served.blocked, _items(served), _catalogue(engine, served), options, live.seen
    )
    source = pipeline.model_source(model, chosen.users, live.positive, chosen.sequences)
    ranked = pipeline.run(source, model, _catalogue(engine, served), allowed, options)
    return finish(
        engine, served, ranked, options, _history_explainer(engine, served, live.positive)
    )


# -- item to items --------------------------------------------------------------------------


def _similar_list(
    engine: ServingContext, served: ServedModel, index: int, allowed: Allowed, options: ListOptions
) -> pipeline.Ranked:
    model = served.model
    allowed = allowed.without(np.array([index]))
    unfiltered = Allowed.all_but(allowed.size, np.array([index]))

    def source(allowed: Allowed, depth: int) -> tuple[np.ndarray, np.ndarray]:
        def neighbours(k: int) -> tuple[np.ndarray, np.ndarray]:
            ids, scores = model.similar_items(np.array([index]), k)
            return ids[0], scores[0]

        return pipeline.filtered_neighbours(neighbours, allowed, depth)

    return pipeline.run(source, model, _catalogue(engine, served), allowed, options, unfiltered)


def similar(
    engine: ServingContext, scenario: str, item_id: str, options: ListOptions
) -> RecommendationList:
    """Items the scenario's champion calls most similar to ``item_id``; an item it never saw
    (newer than its training) gets the items closest to its content (``_by_content``)."""
    served = engine.model(scenario)
    assert served.model.items is not None
    index = served.model.items.get(item_id)
    allowed = pipeline.allowed_items(
        served.blocked, _items(served), _catalogue(engine, served), options
    )
    if index < 0:
        return _by_content(engine, served, item_id, allowed, options)
    ranked = _similar_list(engine, served, index, allowed, options)
    reason = "similar_to" if scenario == "similar_items" else "bought_together"
    return finish(engine, served, ranked, options, _fixed_explainer(reason, ((item_id, 1.0),)))


def _by_content(
    engine: ServingContext,
    served: ServedModel,
    item_id: str,
    allowed: Allowed,
    options: ListOptions,
) -> RecommendationList:
    """The champion's items closest to the content of an item it does not know
    (serving/content_neighbours.py); empty with ``no_content`` when the item has none."""
    document = content_neighbours.document_of(engine.store, item_id)
    explainer = _fixed_explainer("similar_to", ((item_id, 1.0),))
    if not document:
        nothing = pipeline.Ranked(np.empty(0, np.int64), np.empty(0), reasons.NO_CONTENT)
        return finish(engine, served, nothing, options, explainer)
    items = _items(served)
    content = engine.content_neighbours

    def source(allowed: Allowed, depth: int) -> tuple[np.ndarray, np.ndarray]:
        return pipeline.filtered_neighbours(
            lambda k: content.neighbours(items, document, k), allowed, depth
        )

    model = content.model_for(items)  # the same item space: diversity compares its items
    ranked = pipeline.run(source, model, _catalogue(engine, served), allowed, options)
    result = finish(engine, served, ranked, options, explainer)
    return replace(result, model=content_neighbours.MODEL_NAME)


def bought_together(
    engine: ServingContext, item_id: str, options: ListOptions
) -> RecommendationList:
    served = engine.served().get("frequently_bought_together")
    if served is not None:
        assert served.model.items is not None
        if served.model.items.get(item_id) >= 0:
            result = similar(engine, "frequently_bought_together", item_id, options)
            if result.item_ids:
                return result
    return similar(engine, "similar_items", item_id, options)


def because_you_liked(
    engine: ServingContext, user_id: str, options: ListOptions, anchors: int
) -> Groups:
    """Per recent positive item of the user (newest first), the items similar to it; an item
    shown under one anchor is not repeated under a later one. The scenario's own champion
    answers when one is promoted, else the similar-items champion (FALLBACK)."""
    own = engine.served().get("because_you_liked")
    if own is not None and own.model.supports_similar_items:
        served = own
    else:
        served = engine.model(FALLBACK["because_you_liked"])
    model = served.model
    assert model.items is not None
    live = engine.history(user_id, model.items)
    recent = list(dict.fromkeys(int(i) for i in live.sequence[::-1]))[:anchors]
    allowed = pipeline.allowed_items(
        served.blocked, _items(served), _catalogue(engine, served), options, live.seen
    )
    groups = []
    plain = replace(options, pins=())
    for index in recent:
        ranked = _similar_list(engine, served, index, allowed, plain)
        anchor = str(model.items.id_of(np.array([index]))[0])
        result = finish(
            engine, served, ranked, plain, _fixed_explainer("similar_to", ((anchor, 1.0),))
        )
        allowed = allowed.without(model.items.index(result.item_ids))
        groups.append((anchor, result))
    reason = None if groups else reasons.NO_HISTORY
    return Groups(groups, served.ref, new_recommendation_id(), reason)


# -- one list for everyone ------------------------------------------------------------------


def _ranking_source(
    engine: ServingContext, scenario: str, served: ServedModel, counted_live: bool = True
) -> pipeline.Source:
    """A global ranking's candidates: the trained order, re-scored where popular and
    trending counted votes since training (``pipeline.ranking_source``)."""
    model = served.model
    assert isinstance(model, GlobalRanking)
    trained = model.scores
    live = None
    if counted_live and scenario in ("popular", "trending"):
        live = engine.live_counts(served)
    if live is None or not live.any:
        return pipeline.ranking_source(model.order, trained.__getitem__, np.empty(0, np.int64))
    counts = live.counts  # before ``changed``: a refresh between the two only adds items
    prior = float(getattr(model.config, "prior", 1.0))

    def scores_at(at: np.ndarray) -> np.ndarray:
        if scenario == "popular":
            return popular_scores(trained[at], counts[at])
        return trending_scores(trained[at], counts[at], prior)

    return pipeline.ranking_source(model.order, scores_at, live.changed)


def global_ranking(
    engine: ServingContext,
    scenario: str,
    user_id: str | None,
    options: ListOptions,
    served: ServedModel | None = None,
    counted_live: bool = True,
) -> RecommendationList:
    """popular, trending or latest; with ``user_id``, without what that user has seen.
    popular and trending add the positive events counted since training (``counted_live``:
    false for a ranking counted from the store just now). ``served`` (an experiment
    variant's model version) stands in for the scenario's champion."""
    served = served if served is not None else engine.model(scenario)
    model = served.model
    assert model.items is not None
    seen = engine.history(user_id, model.items).seen if user_id else None
    allowed = pipeline.allowed_items(
        served.blocked, _items(served), _catalogue(engine, served), options, seen
    )
    source: pipeline.Source
    if isinstance(model, GlobalRanking):
        source = _ranking_source(engine, scenario, served, counted_live)
    else:
        source = pipeline.model_source(model, np.array([-1]), None)

    ranked = pipeline.run(source, model, _catalogue(engine, served), allowed, options)
    return finish(engine, served, ranked, options, _fixed_explainer(scenario))


def untrained_popular(
    engine: ServingContext, user_id: str | None, options: ListOptions
) -> RecommendationList:
    """Popular before the first training: counted from the store (serving/untrained.py);
    ``ModelNotReady`` while no event is positive."""
    served = engine.untrained_popular.served()
    if served is None:
        raise ModelNotReady(
            "no model is trained for 'popular' yet and no positive feedback has been received"
        )
    return global_ranking(engine, "popular", user_id, options, served, counted_live=False)


# -- people you may know --------------------------------------------------------------------


def people_you_may_know(engine: ServingContext, user_id: str, n: int, offset: int) -> UserList:
    """The champion's similar users blended with friends of friends; without a champion,
    friends of friends alone. Never the user or their current friends."""
    direct = friends(engine.store, user_id)
    graph = friends_of_friends(engine.store, user_id, direct)
    served = engine.served().get("people_you_may_know")
    taste: dict[str, float] = {}
    ref = "friends_of_friends"
    if served is not None and served.model.supports_similar_users:
        model = served.model
        ref = served.ref
        assert model.users is not None
        index = engine.user_index(served, user_id)  # -1: unknown or forgotten
        if index >= 0:
            ids, scores = model.similar_users(np.array([index]), offset + n + len(direct) + 1)
            for i, s in zip(ids[0], scores[0], strict=True):
                other = str(model.users.id_of(np.array([i]))[0]) if i >= 0 else None
                if other is None or other == user_id or other in direct:
                    continue
                if not engine.is_forgotten(other, served):  # a deleted user never shows
                    taste[other] = float(s)
    if served is not None and getattr(served.model, "needs_relations", False):
        # the champion (e.g. ``social``) already blends the friend graph it was trained on
        # with taste: blending the graph again would count it twice. Its order first, then
        # friends of friends it cannot know of (friendships made since it was trained).
        ordered = sorted(taste.items(), key=lambda kv: (-kv[1], kv[0]))
        later = sorted(
            ((u, c) for u, c in graph.items() if u not in taste), key=lambda kv: (-kv[1], kv[0])
        )
        ranked = [*ordered, *((u, 0.0) for u, _ in later)][offset : offset + n]
    else:
        ranked = blend(graph, taste)[offset : offset + n]
    return UserList(
        user_ids=[u for u, _ in ranked],
        scores=[s for _, s in ranked],
        model=ref,
        recommendation_id=new_recommendation_id(),
    )


# -- anonymous sessions ---------------------------------------------------------------------


def _sequence_source(served: ServedModel, sequence: np.ndarray) -> pipeline.Source | None:
    """The session champion over the session's sequence, if it can use it."""
    model = served.model
    assert model.items is not None
    users = np.array([-1])
    history = _row(sequence, len(model.items))
    if not model.has_signal(users, history, [sequence])[0]:
        return None
    return pipeline.model_source(model, users, history, [sequence])


def _neighbour_source(served: ServedModel, sequence: np.ndarray) -> pipeline.Source | None:
    """Summed similarity of every item to the session's items (the similar-items champion)."""
    model = served.model
    assert model.items is not None
    if len(sequence) == 0:
        return None
    if isinstance(model, ItemNeighbourhood):  # history @ similarity, sparse: the exact sum
        return pipeline.model_source(model, np.array([-1]), _row(sequence, len(model.items)))
    n_items = len(model.items)
    ids, sims = model.similar_items(np.unique(sequence), min(n_items, SESSION_NEIGHBOURS))
    ok = ids >= 0
    if not ok.any():
        return None
    scores = np.full(n_items, -np.inf, dtype=np.float32)
    totals = np.bincount(ids[ok], weights=sims[ok], minlength=n_items)
    scores[np.unique(ids[ok])] = totals[np.unique(ids[ok])]
    return lambda allowed, depth: pipeline.from_scores(scores, allowed, depth)


def session(
    engine: ServingContext, item_ids: list[str], options: ListOptions, negative: Set[str]
) -> RecommendationList:
    """The session champion (sequential models) over the session's items; else the
    similar-items champion; a session with nothing known gets popular items."""
    for scenario in ("session", "similar_items"):
        served = engine.served().get(scenario)
        if served is None:
            continue
        model = served.model
        assert model.items is not None
        indices = model.items.index(item_ids)
        sequence = indices[indices >= 0][-MAX_SESSION_ITEMS:]
        build = _sequence_source if scenario == "session" else _neighbour_source
        source = build(served, sequence)
        if source is None:
            continue
        history = _row(sequence, len(model.items))
        seen = _row(indices[indices >= 0], len(model.items))  # the whole session
        allowed = pipeline.allowed_items(
            served.blocked, _items(served), _catalogue(engine, served), options, seen
        )
        # negative feedback removes an item, always
        allowed = allowed.without(model.items.index(list(negative)))
        ranked = pipeline.run(source, model, _catalogue(engine, served), allowed, options)
        return finish(engine, served, ranked, options, _history_explainer(engine, served, history))
    seen_ids = tuple(dict.fromkeys([*item_ids, *negative]))
    anyone = replace(options, exclude=(*options.exclude, *seen_ids))
    if not engine.has_champion("popular"):
        return untrained_popular(engine, None, anyone)
    return global_ranking(engine, "popular", None, anyone)


# -- ranking a client's candidates ----------------------------------------------------------


def rank(engine: ServingContext, user_id: str, item_ids: list[str]) -> RankedCandidates:
    """The recommended champion's scores for ``item_ids``, best first; a user it cannot
    personalise is ranked by popular (before the first training, counted from the store).
    Unknown items come last in the given order; hidden items are left out."""
    item_ids = list(dict.fromkeys(item_ids))
    chosen = _personal(engine, user_id)
    if chosen is None:
        counted = engine.untrained_popular.served()
        if counted is None:
            raise ModelNotReady(
                "no model is trained for 'popular' yet and no positive feedback has been received"
            )
        served, model = counted, counted.model
        scores = model.score(np.array([-1]))[0]
    else:
        served, model = chosen.served, chosen.served.model
        scores = model.score(chosen.users, chosen.live.positive, chosen.sequences)[0]
    assert model.items is not None
    indices = model.items.index(item_ids)
    known = [
        (i, float(scores[x]))
        for i, x in zip(item_ids, indices, strict=True)
        if x >= 0 and not served.blocked[x] and np.isfinite(scores[x])
    ]
    known.sort(key=lambda pair: -pair[1])
    placed = {i for i, _ in known}
    blocked = {i for i, x in zip(item_ids, indices, strict=True) if x >= 0 and served.blocked[x]}
    unknown = [i for i in item_ids if i not in placed and i not in blocked]
    return RankedCandidates(
        item_ids=[i for i, _ in known] + unknown,
        scores=[s for _, s in known] + [None] * len(unknown),
        model=served.ref,
        recommendation_id=new_recommendation_id(),
    )
