"""Feedback events: batch ingestion (idempotent on ``event_id``) and per-user/per-item listings."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from recserve.api.deps import (
    EventCursor,
    ItemIdPath,
    LimitQuery,
    SettingsDep,
    StoreDep,
    UserIdPath,
)
from recserve.api.errors import MAX_DETAILS, ApiError
from recserve.api.routes._shared import check_batch, item_not_found, user_not_found
from recserve.schemas import FeedbackCreate, FeedbackPublic, Page, WriteResult

router = APIRouter(tags=["feedback"])


def _check_types(events: list[FeedbackCreate], known: dict[str, Any]) -> None:
    unknown = [(i, e.type) for i, e in enumerate(events) if e.type not in known]
    if not unknown:
        return
    index, name = unknown[0]
    more = f" (and {len(unknown) - 1} more rows)" if len(unknown) > 1 else ""
    raise ApiError(
        422,
        "unknown_feedback_type",
        f"body.{index}.type: unknown feedback type {name!r}{more}; "
        f"configured types: {', '.join(sorted(known))}",
        [
            {"type": "unknown_feedback_type", "loc": ["body", i, "type"], "input": t, "index": i}
            for i, t in unknown[:MAX_DETAILS]
        ],
    )


@router.post("/feedback", response_model=WriteResult, summary="Store feedback events (batch)")
def add_feedback(
    events: list[FeedbackCreate], store: StoreDep, settings: SettingsDep
) -> WriteResult:
    """Unknown users and items are created on the fly. An event whose ``event_id`` is already
    stored is skipped and counted in ``duplicates``, so a failed batch can be retried as is."""
    check_batch(events, settings)
    _check_types(events, settings.feedback_types)
    now = time.time()
    rows = []
    for event in events:
        row = event.model_dump()
        if row["timestamp"] is None:
            row["timestamp"] = now
        rows.append(row)
    result = store.feedback.add(rows)
    return WriteResult(accepted=result.accepted, duplicates=result.duplicates)


def _page(rows: list[dict[str, Any]], next_cursor: str | None) -> Page[FeedbackPublic]:
    return Page[FeedbackPublic](
        data=[FeedbackPublic.from_row(r) for r in rows], count=len(rows), next_cursor=next_cursor
    )


@router.get(
    "/users/{user_id}/feedback", response_model=Page[FeedbackPublic], summary="A user's events"
)
def user_feedback(
    user_id: UserIdPath, store: StoreDep, cursor: EventCursor, limit: LimitQuery = 100
) -> Page[FeedbackPublic]:
    """Newest first."""
    if store.users.get(user_id) is None:
        raise user_not_found(user_id)
    return _page(*store.feedback.for_user(user_id, cursor, limit))


@router.get(
    "/items/{item_id}/feedback", response_model=Page[FeedbackPublic], summary="An item's events"
)
def item_feedback(
    item_id: ItemIdPath, store: StoreDep, cursor: EventCursor, limit: LimitQuery = 100
) -> Page[FeedbackPublic]:
    """Newest first."""
    if store.items.get(item_id) is None:
        raise item_not_found(item_id)
    return _page(*store.feedback.for_item(item_id, cursor, limit))
