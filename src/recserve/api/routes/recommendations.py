"""Recommendations for a user, similar items and popular items, from the served champions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from recserve.api.deps import EngineDep, ItemIdPath, OptionalUserQuery, StoreDep, TopN, UserIdPath
from recserve.api.routes._shared import item_not_found
from recserve.schemas import ErrorBody, RecommendationResponse, ScoredItem
from recserve.serving import RecommendationList

router = APIRouter(tags=["recommendations"])

NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "No model is trained for this yet (model_not_ready)"}
}


def _response(
    result: RecommendationList, *, user_id: str | None = None, item_id: str | None = None
) -> RecommendationResponse:
    return RecommendationResponse(
        user_id=user_id,
        item_id=item_id,
        items=[
            ScoredItem(item_id=i, score=s)
            for i, s in zip(result.item_ids, result.scores, strict=True)
        ],
        recommendation_id=result.recommendation_id,
        model=result.model,
    )


@router.get(
    "/users/{user_id}/recommendations",
    response_model=RecommendationResponse,
    responses=NOT_READY,
    summary="Top-n items for a user",
)
def recommend(user_id: UserIdPath, engine: EngineDep, n: TopN) -> RecommendationResponse:
    """Leaves out items the user gave positive or negative feedback on, and hidden items.
    A user the model cannot personalise for (unknown, no history) gets popular items."""
    return _response(engine.recommend(user_id, n), user_id=user_id)


@router.get(
    "/items/{item_id}/similar",
    response_model=RecommendationResponse,
    responses=NOT_READY,
    summary="Items similar to an item",
)
def similar_items(
    item_id: ItemIdPath, store: StoreDep, engine: EngineDep, n: TopN
) -> RecommendationResponse:
    """An item added since the last training gets an empty list until the next one."""
    if store.items.get(item_id) is None:
        raise item_not_found(item_id)
    return _response(engine.similar_items(item_id, n), item_id=item_id)


@router.get(
    "/popular", response_model=RecommendationResponse, responses=NOT_READY, summary="Popular items"
)
def popular(
    engine: EngineDep, n: TopN, user_id: OptionalUserQuery = None
) -> RecommendationResponse:
    """With ``user_id``, leaves out what that user has already given feedback on."""
    return _response(engine.popular(n, user_id), user_id=user_id)
