"""/v1/users. Deleting a user removes their events and relations too (the privacy request)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from recserve.api.deps import EntityCursor, LimitQuery, SettingsDep, StoreDep, UserIdPath
from recserve.api.routes._shared import check_batch, nullable_changes, user_not_found
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
def delete_user(user_id: UserIdPath, store: StoreDep) -> Response:
    if not store.delete_user(user_id):
        raise user_not_found(user_id)
    return Response(status_code=204)
