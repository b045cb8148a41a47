"""The other scenarios: trending, latest, bought together, because you liked, people you may
know, anonymous sessions and personalised ranking of a client's candidates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from recserve.api import item_details
from recserve.api.deps import (
    EngineDep,
    ItemIdPath,
    OptionalUserQuery,
    StoreDep,
    TopN,
    UserIdPath,
)
from recserve.api.routes._shared import item_not_found
from recserve.api.routes.list_params import (
    MAX_OFFSET,
    ItemFieldsParam,
    ListParams,
    json_response,
    list_items,
    list_response,
)
from recserve.api.routes.llm_lists import LlmParam, llm_list_body, llm_stage
from recserve.api.routes.recommendations import NOT_READY, in_memory
from recserve.schemas import ExternalId
from recserve.schemas.llm import LlmListResponse
from recserve.schemas.scenarios import (
    Group,
    GroupsResponse,
    ItemIdsBody,
    ListResponse,
    PeopleResponse,
    RankedItem,
    RankResponse,
    ScoredUser,
)
from recserve.serving import ListOptions, ServingEngine

router = APIRouter(tags=["scenarios"])


async def _global(
    request: Request,
    engine: ServingEngine,
    scenario: str,
    user_id: str | None,
    options: ListOptions,
    llm: LlmParam,
) -> Response:
    """One list for everyone: on the event loop when no I/O is needed (``in_memory``);
    through the LLM stage when asked or configured (docs/language.md)."""
    stage = llm_stage(request, scenario, llm, user_id)
    if stage is not None:
        store = request.app.state.store
        body = await run_in_threadpool(
            llm_list_body, stage, engine, store, scenario, user_id, options, llm
        )
        return Response(body, media_type="application/json")
    if in_memory(engine, user_id, options, scenario):
        return _global_answer(engine, scenario, user_id, options)
    return await run_in_threadpool(_global_answer, engine, scenario, user_id, options)


def _global_answer(
    engine: ServingEngine, scenario: str, user_id: str | None, options: ListOptions
) -> Response:
    result = engine.global_ranking(scenario, user_id, options)
    return json_response(list_response(result, options, engine.store, user_id=user_id))


@router.get(
    "/trending", response_model=LlmListResponse, responses=NOT_READY, summary="Trending now"
)
async def trending(
    request: Request,
    engine: EngineDep,
    options: ListParams,
    llm: LlmParam,
    user_id: OptionalUserQuery = None,
) -> Response:
    """Items whose positive feedback grows; counts feedback posted since the last training."""
    return await _global(request, engine, "trending", user_id, options, llm)


@router.get("/latest", response_model=LlmListResponse, responses=NOT_READY, summary="Newest items")
async def latest(
    request: Request,
    engine: EngineDep,
    options: ListParams,
    llm: LlmParam,
    user_id: OptionalUserQuery = None,
) -> Response:
    return await _global(request, engine, "latest", user_id, options, llm)


@router.get(
    "/items/{item_id}/bought-together",
    response_model=ListResponse,
    responses=NOT_READY,
    summary="Frequently bought together",
)
def bought_together(
    item_id: ItemIdPath, store: StoreDep, engine: EngineDep, options: ListParams
) -> ListResponse:
    """The co-occurrence champion; similar items when it has nothing for this item."""
    if store.items.get(item_id) is None:
        raise item_not_found(item_id)
    result = engine.bought_together(item_id, options)
    return list_response(result, options, store, item_id=item_id)


@router.get(
    "/users/{user_id}/because-you-liked",
    response_model=GroupsResponse,
    responses=NOT_READY,
    summary="Because you liked X: similar items per recent liked item",
)
def because_you_liked(
    user_id: UserIdPath,
    engine: EngineDep,
    options: ListParams,
    anchors: Annotated[int, Query(ge=1, le=20, description="Recent liked items used.")] = 3,
) -> GroupsResponse:
    """``n`` items per group; the user's most recent positive items first."""
    result = engine.because_you_liked(user_id, options, anchors)
    listed = [i for _, r in result.groups for i in r.item_ids]
    details = item_details.read(engine.store, listed, options.fields)  # one query for all
    return GroupsResponse(
        user_id=user_id,
        groups=[
            Group(anchor_item_id=a, items=list_items(r, details), reason=r.reason)
            for a, r in result.groups
        ],
        recommendation_id=result.recommendation_id,
        model=result.model,
        reason=result.reason,
    )


@router.get(
    "/users/{user_id}/people-you-may-know",
    response_model=PeopleResponse,
    summary="People you may know: friends of friends blended with similar taste",
)
def people_you_may_know(
    user_id: UserIdPath,
    engine: EngineDep,
    n: TopN,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> PeopleResponse:
    """Never the user or their current friends."""
    result = engine.people_you_may_know(user_id, n, offset)
    return PeopleResponse(
        user_id=user_id,
        users=[
            ScoredUser(user_id=u, score=s)
            for u, s in zip(result.user_ids, result.scores, strict=True)
        ],
        recommendation_id=result.recommendation_id,
        model=result.model,
    )


SessionIdPath = Annotated[
    ExternalId, Path(description="The session_id the events were posted with.")
]


@router.get(
    "/sessions/{session_id}/recommendations",
    response_model=ListResponse,
    responses=NOT_READY,
    summary="Recommendations for an anonymous session from its stored events",
)
def session_recommendations(
    session_id: SessionIdPath, engine: EngineDep, options: ListParams
) -> ListResponse:
    """Uses the events posted with this ``session_id``; leaves out the session's items."""
    result = engine.session_by_id(session_id, options)
    return list_response(result, options, engine.store, session_id=session_id)


@router.post(
    "/sessions/recommendations",
    response_model=ListResponse,
    responses=NOT_READY,
    summary="Recommendations for an anonymous session from posted item ids",
)
def posted_session_recommendations(
    body: ItemIdsBody, engine: EngineDep, options: ListParams
) -> ListResponse:
    """``item_ids`` are the session's items, oldest first."""
    return list_response(engine.session(body.item_ids, options), options, engine.store)


@router.post(
    "/users/{user_id}/rank",
    response_model=RankResponse,
    responses=NOT_READY,
    summary="Personalised order of a client-given candidate list",
)
def rank(
    user_id: UserIdPath, body: ItemIdsBody, engine: EngineDep, fields: ItemFieldsParam = ()
) -> RankResponse:
    """Best first by the recommended champion; unknown items last (score null); hidden left
    out."""
    result = engine.rank(user_id, body.item_ids)
    details = item_details.read(engine.store, result.item_ids, fields) or {}
    return RankResponse(
        user_id=user_id,
        items=[
            RankedItem(item_id=i, score=s, details=details.get(i))
            for i, s in zip(result.item_ids, result.scores, strict=True)
        ],
        recommendation_id=result.recommendation_id,
        model=result.model,
    )
