"""Recommendations for many users at once (``recserve recommend --all``, the batch API job).

Each list is the one the per-user endpoint answers for the same state: the same champions,
live histories, experiment variants, fallbacks and request path (``scenarios.finish``).
What is batched is the I/O and the model: the users' events are read in one query per
chunk, and the users are grouped by the model that answers them (the champion, or their
experiment variant's model), each group scored in one ``model.recommend`` call. The
others take the engine's per-user path: users the model cannot personalise for (the
popular fallback), users whose left-out items exceed ``pipeline.DENSE_ABOVE``, and the
global-ranking scenarios. Lists are never logged as served to an experiment: an export
is not an impression.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from recserve.algorithms.global_ranking import GlobalRanking
from recserve.serving import pipeline, scenarios
from recserve.serving.engine import ServingEngine
from recserve.serving.history import Event, UserHistory
from recserve.serving.options import ListOptions
from recserve.serving.served import FALLBACK, RecommendationList, ServedModel

BATCH_SCENARIOS = ("recommended", "popular", "trending", "latest")
MAX_CHUNK_USERS = 256
SCORES_PER_CHUNK = 32_000_000  # dense scores one model call may hold (128 MB as float32)


def chunk_users(engine: ServingEngine, scenario: str) -> int:
    """Users per chunk: up to ``MAX_CHUNK_USERS``, fewer for a large catalogue, so one
    chunk's dense score matrix stays within ``SCORES_PER_CHUNK``."""
    served = engine.served().get(scenario)
    items = served.model.items if served is not None else None
    n_items = len(items) if items is not None else 1
    return int(np.clip(SCORES_PER_CHUNK // max(n_items, 1), 1, MAX_CHUNK_USERS))


def recommend_many(
    engine: ServingEngine, scenario: str, user_ids: Sequence[str], n: int
) -> list[RecommendationList]:
    """The top ``n`` of each user of ``user_ids``, in order; ``ModelNotReady`` when the
    scenario has no champion (the per-user endpoint's 503)."""
    if scenario not in BATCH_SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(BATCH_SCENARIOS)}")
    served = engine.model(scenario)  # ModelNotReady before any work
    options = ListOptions(n=n)
    events = engine.store.feedback.user_histories(list(user_ids))
    _warm(engine, served, scenario, events)
    if scenario != "recommended":
        return [engine.global_ranking(scenario, u, options, log=False) for u in user_ids]
    # users grouped by the model that answers them: the champion, or their variant's
    groups: dict[int, tuple[ServedModel, list[int]]] = {}
    arms = []
    for k, user_id in enumerate(user_ids):
        model, arm = engine.served_for(scenario, user_id)
        arms.append(arm)
        groups.setdefault(id(model), (model, []))[1].append(k)
    results: dict[int, RecommendationList] = {}
    for model, positions in groups.values():
        found = _personalised(engine, model, [user_ids[k] for k in positions], events, options)
        results.update((positions[row], result) for row, result in found.items())
    return [
        engine.served_under(arms[k], u, results[k], log=False)
        if k in results
        else engine.recommend(u, options, log=False)
        for k, u in enumerate(user_ids)
    ]


def _history(
    engine: ServingEngine, user_id: str, served: ServedModel, events: dict[str, list[Event]]
) -> UserHistory:
    """The user's history in the model's item space from the events read for the chunk
    (through the engine's history cache, so the per-user path finds it there too)."""
    assert served.model.items is not None
    return engine.histories.get(
        user_id, served.model.items, lambda: events[user_id], engine.feedback_types
    )


def _warm(
    engine: ServingEngine, served: ServedModel, scenario: str, events: dict[str, list[Event]]
) -> None:
    """Cache the chunk's histories in the item space of every model that may answer
    (the champion, then its fallbacks), when the engine caches histories at all."""
    if engine.histories.max_users <= 0:
        return
    chain = [served]
    while scenario in FALLBACK:
        scenario = FALLBACK[scenario]
        if (fallback := engine.served().get(scenario)) is not None:
            chain.append(fallback)
    for user_id in events:
        for model in chain:
            _history(engine, user_id, model, events)


def _personalised(
    engine: ServingEngine,
    champion: ServedModel,
    user_ids: Sequence[str],
    events: dict[str, list[Event]],
    options: ListOptions,
) -> dict[int, RecommendationList]:
    """The lists of the users ``champion`` (the recommended champion or a variant's model)
    answers for itself, scored in one model call; keyed by position in ``user_ids``. The
    users it cannot personalise for are left to the per-user path (its fallbacks)."""
    model = champion.model
    if isinstance(model, GlobalRanking) and champion is engine.served().get("popular"):
        return {}  # the popular champion answers with live counters: the per-user path
    assert model.items is not None
    users = [engine.user_index(champion, user_id) for user_id in user_ids]
    lives = [_history(engine, user_id, champion, events) for user_id in user_ids]
    user_index = np.array(users, dtype=np.int64)
    positive = sp.vstack([live.positive for live in lives], format="csr", dtype=np.float32)
    sequences = [live.sequence for live in lives]
    if model.uses_sequence:
        signal = model.has_signal(user_index, positive, sequences)
    else:
        signal = model.has_signal(user_index, positive)
    catalogue = lambda: engine.catalogue(champion)  # noqa: E731
    chosen, exclusions = [], []
    for row, live in enumerate(lives):
        if not signal[row]:
            continue  # the fallback answers: the per-user path
        allowed = pipeline.allowed_items(
            champion.blocked, model.items, catalogue, options, live.seen
        )
        if len(allowed.dropped()) > pipeline.DENSE_ABOVE:
            continue  # the per-user path scores every item and masks
        chosen.append(row)
        exclusions.append(pipeline.exclusion_row(allowed))
    if not chosen:
        return {}
    rows = np.array(chosen)
    ids, scores = model.recommend(
        user_index[rows],
        positive[rows],
        options.depth,
        sp.vstack(exclusions, format="csr"),
        [sequences[r] for r in chosen],
    )
    results = {}
    for k, row in enumerate(chosen):
        valid = ids[k] >= 0
        ranked = pipeline.Ranked(ids[k][valid][: options.depth], scores[k][valid][: options.depth])
        results[row] = scenarios.finish(engine, champion, ranked, options)
    return results
