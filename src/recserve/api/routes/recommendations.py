"""Recommendations for a user, similar items and popular items, from the served champions.

Every list takes the shared request-path parameters (``list_params``): paging, filters,
diversity, pinned items and explanations.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from recserve.api.deps import EngineDep, ItemIdPath, OptionalUserQuery, StoreDep, UserIdPath
from recserve.api.routes._shared import item_not_found
from recserve.api.routes.list_params import ListParams, list_response
from recserve.api.scenario_schemas import ListResponse
from recserve.schemas import ErrorBody

router = APIRouter(tags=["recommendations"])

NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "No model is trained for this yet (model_not_ready)"}
}


@router.get(
    "/users/{user_id}/recommendations",
    response_model=ListResponse,
    responses=NOT_READY,
    summary="Top-n items for a user",
)
def recommend(user_id: UserIdPath, engine: EngineDep, options: ListParams) -> ListResponse:
    """Leaves out items the user gave positive or negative feedback on, and hidden items.
    A user the model cannot personalise for (unknown, no history) gets popular items."""
    return list_response(engine.recommend(user_id, options.n, options), options, user_id=user_id)


@router.get(
    "/items/{item_id}/similar",
    response_model=ListResponse,
    responses=NOT_READY,
    summary="Items similar to an item",
)
def similar_items(
    item_id: ItemIdPath, store: StoreDep, engine: EngineDep, options: ListParams
) -> ListResponse:
    """An item added since the last training gets an empty list until the next one."""
    if store.items.get(item_id) is None:
        raise item_not_found(item_id)
    result = engine.similar_items(item_id, options.n, options)
    return list_response(result, options, item_id=item_id)


@router.get("/popular", response_model=ListResponse, responses=NOT_READY, summary="Popular items")
def popular(
    engine: EngineDep, options: ListParams, user_id: OptionalUserQuery = None
) -> ListResponse:
    """With ``user_id``, leaves out what that user has already given feedback on. Counts
    positive feedback posted since the last training."""
    result = engine.popular(options.n, user_id, options)
    return list_response(result, options, user_id=user_id)
