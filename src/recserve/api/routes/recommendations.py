"""Recommendations for a user, similar items and popular items, from the served champions.

Every list takes the shared request-path parameters (``list_params``): paging, filters,
diversity, pinned items and explanations.

The hot routes are ``async def``: when the user's live history is cached (serving/history.py)
a request is CPU-only work of a fraction of a millisecond, so it runs on the event loop
without the thread-pool hops of sync routes and dependencies; a request that must read the
store (history not cached, pinned items to look up) runs in the thread pool, as a sync route
would, so a slow database never blocks the loop. Their plain, cached requests are answered
before FastAPI's routing by the fast lane (api/fast_lane.py), which calls the same
``*_body`` functions as the routes here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from recserve.api.deps import EngineDep, ItemIdPath, OptionalUserQuery, StoreDep, UserIdPath
from recserve.api.routes._shared import item_not_found
from recserve.api.routes.list_params import ListParams, json_response, list_response
from recserve.api.routes.llm_lists import LlmParam, llm_list_body, llm_stage, reject_llm
from recserve.api.routes.search import MAX_QUERY, check_query, query_recommendations
from recserve.schemas import ErrorBody
from recserve.schemas.llm import LlmListResponse
from recserve.schemas.scenarios import ListResponse
from recserve.serving import ListOptions, ServingEngine
from recserve.serving.live import local_counts
from recserve.serving.served import FALLBACK

router = APIRouter(tags=["recommendations"])

NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "No model is trained for this yet (model_not_ready)"}
}


def in_memory(
    engine: ServingEngine, user_id: str | None, options: ListOptions, scenario: str
) -> bool:
    """Whether answering needs no I/O: the user's history is cached in the item spaces of the
    models that answer ``scenario`` (``engine.history_cached``; or there is no user),
    the deleted-users marks are fresh (``engine.is_forgotten`` re-reads them from the store
    every ``engine.forgotten.reload_seconds``), the live counters are this process's (not Redis),
    and no pinned item has to be looked up, item catalogue built for a filter nor item
    details read (``fields``); and a champion answers at every step of the scenario's
    fallback chain (without one, popular is counted from the store: serving/untrained.py)."""
    step: str | None = scenario
    while step is not None:
        if not engine.has_champion(step):
            return False
        step = FALLBACK.get(step)
    if options.pins or options.category is not None or options.filter is not None:
        return False
    if options.fields:
        return False
    if options.diversity > 0 or engine.model_state.counts_factory is not local_counts:
        return False
    if not engine.forgotten.fresh():
        return False
    return user_id is None or engine.history_cached(user_id, scenario)


@router.get(
    "/users/{user_id}/recommendations",
    response_model=LlmListResponse,
    responses=NOT_READY,
    summary="Top-n items for a user",
)
async def recommend(
    request: Request,
    user_id: UserIdPath,
    engine: EngineDep,
    options: ListParams,
    llm: LlmParam,
    query: Annotated[
        str | None,
        Query(max_length=MAX_QUERY, description="Only items about this text, by taste."),
    ] = None,
) -> Response:
    """Leaves out items the user gave positive or negative feedback on, and hidden items.
    A user the model cannot personalise for (unknown, no history) gets popular items, as
    does every user before the first training. With ``query``: the items most relevant to
    the text (as ``/v1/search``), in the order of this user's taste. With ``llm``, or when
    ``llm_rerank_scenarios`` has ``recommended``: through the LLM stage (docs/language.md)."""
    if query is not None:
        reject_llm(llm, "query")
        searcher = request.app.state.search
        answer = await run_in_threadpool(
            query_recommendations, searcher, user_id, check_query(query), options
        )
        return json_response(answer)
    stage = llm_stage(request, "recommended", llm, user_id)
    if stage is not None:
        store = request.app.state.store
        body = await run_in_threadpool(
            llm_list_body, stage, engine, store, "recommended", user_id, options, llm
        )
        return Response(body, media_type="application/json")
    if in_memory(engine, user_id, options, "recommended"):
        body = recommendations_body(engine, user_id, options)
    else:
        body = await run_in_threadpool(recommendations_body, engine, user_id, options)
    return Response(body, media_type="application/json")


def recommendations_body(engine: ServingEngine, user_id: str, options: ListOptions) -> bytes:
    """The JSON answer of the route (and of the fast lane, api/fast_lane.py)."""
    result = engine.recommend(user_id, options)
    return list_response(result, options, engine.store, user_id=user_id).model_dump_json().encode()


@router.get(
    "/items/{item_id}/similar",
    response_model=ListResponse,
    responses=NOT_READY,
    summary="Items similar to an item",
)
def similar_items(
    item_id: ItemIdPath, store: StoreDep, engine: EngineDep, options: ListParams
) -> Response:
    """An item added since the last training is compared by its content with the model's
    items (``model: content_similarity``); without content the list is empty with
    ``reason: no_content``."""
    if store.items.get(item_id) is None:
        raise item_not_found(item_id)
    result = engine.similar_items(item_id, options)
    return json_response(list_response(result, options, store, item_id=item_id))


@router.get(
    "/popular", response_model=LlmListResponse, responses=NOT_READY, summary="Popular items"
)
async def popular(
    request: Request,
    engine: EngineDep,
    options: ListParams,
    llm: LlmParam,
    user_id: OptionalUserQuery = None,
) -> Response:
    """With ``user_id``, leaves out what that user has already given feedback on. Counts
    positive feedback posted since the last training; before the first training, ranks by
    the positive feedback in the store (``model: live_counts/untrained``). ``llm`` as on
    user recommendations (re-ranking by default only with ``user_id``)."""
    stage = llm_stage(request, "popular", llm, user_id)
    if stage is not None:
        store = request.app.state.store
        body = await run_in_threadpool(
            llm_list_body, stage, engine, store, "popular", user_id, options, llm
        )
        return Response(body, media_type="application/json")
    if in_memory(engine, user_id, options, "popular"):
        body = popular_body(engine, options, user_id)
    else:
        body = await run_in_threadpool(popular_body, engine, options, user_id)
    return Response(body, media_type="application/json")


def popular_body(engine: ServingEngine, options: ListOptions, user_id: str | None) -> bytes:
    """The JSON answer of the route (and of the fast lane, api/fast_lane.py)."""
    result = engine.popular(options, user_id)
    return list_response(result, options, engine.store, user_id=user_id).model_dump_json().encode()
