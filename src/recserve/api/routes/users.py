"""/v1/users. Deleting a user removes their events and relations too (the privacy request),
and makes served models forget them at once; the export returns everything stored."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.responses import StreamingResponse

from recserve.api.deps import (
    EngineDep,
    EntityCursor,
    LimitQuery,
    RegistryDep,
    SettingsDep,
    StoreDep,
    UserIdPath,
    require,
)
from recserve.api.routes._shared import check_batch, nullable_changes, user_not_found
from recserve.api.user_export import export_document
from recserve.config import Scope
from recserve.schemas import Page, UserCreate, UserPublic, UserUpdate, WriteResult
from recserve.store.entities import USER_DEFAULTS

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", response_model=WriteResult, summary="Create or replace users (batch)")
def upsert_users(users: list[UserCreate], store: StoreDep, settings: SettingsDep) -> WriteResult:
    """Each row replaces every field of the stored user; within a batch the last row wins."""
    check_batch(users, settings)
    return WriteResult(accepted=store.users.upsert([user.model_dump() for user in users]))


@router.get("", response_model=Page[UserPublic], summary="List users by user_id")
def list_users(store: StoreDep, cursor: EntityCursor, limit: LimitQuery = 100) -> Page[UserPublic]:
    rows, next_cursor = store.users.page(cursor, limit)
    return Page[UserPublic](
        data=[UserPublic.from_row(r) for r in rows], count=len(rows), next_cursor=next_cursor
    )


@router.get("/{user_id}", response_model=UserPublic, summary="Get one user")
def get_user(user_id: UserIdPath, store: StoreDep) -> UserPublic:
    row = store.users.get(user_id)
    if row is None:
        raise user_not_found(user_id)
    return UserPublic.from_row(row)


@router.patch("/{user_id}", response_model=UserPublic, summary="Change some fields of a user")
def patch_user(user_id: UserIdPath, changes: UserUpdate, store: StoreDep) -> UserPublic:
    update = nullable_changes(changes.model_dump(exclude_unset=True), USER_DEFAULTS)
    row = store.users.patch(user_id, update)
    if row is None:
        raise user_not_found(user_id)
    return UserPublic.from_row(row)


@router.delete(
    "/{user_id}", status_code=204, summary="Delete a user with their events and relations"
)
def delete_user(user_id: UserIdPath, store: StoreDep, engine: EngineDep) -> Response:
    """Also from served models, at once: a model trained before now no longer uses the user's
    vector nor shows them as a similar user (on every replica, after restarts too); the
    next training has no data of theirs. See docs/privacy.md."""
    if not store.delete_user(user_id):
        raise user_not_found(user_id)
    engine.forget_user(user_id)
    return Response(status_code=204)


EXPORT_EXAMPLE = {
    "user": {
        "user_id": "u1",
        "attributes": {},
        "tags": [],
        "created_at": "...",
        "updated_at": "...",
    },
    "relations": [],
    "models": {"note": "...", "versions": []},
    "exported_at": "...",
    "events": [],
    "event_count": 0,
}


@router.get(
    "/{user_id}/export",
    dependencies=[Depends(require(Scope.ADMIN))],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Everything stored about the user, streamed as one JSON document.",
            "content": {"application/json": {"example": EXPORT_EXAMPLE}},
        }
    },
    summary="Export everything stored about a user (admin)",
)
def export_user(
    user_id: UserIdPath, store: StoreDep, registry: RegistryDep, engine: EngineDep
) -> StreamingResponse:
    """The user row, their relations (both directions), the model versions that may have
    been trained with their data, and all their events (newest first)."""
    row = store.users.get(user_id)
    if row is None:
        raise user_not_found(user_id)
    return StreamingResponse(
        export_document(store, registry, engine, row), media_type="application/json"
    )
