"""User-user relations (friend, follow) for the social scenario."""

from __future__ import annotations

from fastapi import APIRouter

from recserve.api.deps import SettingsDep, StoreDep, UserIdPath
from recserve.api.errors import MAX_DETAILS, ApiError
from recserve.api.routes._shared import check_batch, user_not_found
from recserve.schemas import Page, RelationCreate, RelationPublic, WriteResult, iso

router = APIRouter(tags=["relations"])


@router.post("/relations", response_model=WriteResult, summary="Store relations (batch)")
def add_relations(
    relations: list[RelationCreate], store: StoreDep, settings: SettingsDep
) -> WriteResult:
    """Idempotent: a relation already stored counts in ``duplicates``. Unknown users are created."""
    check_batch(relations, settings)
    selfish = [i for i, r in enumerate(relations) if r.user_id == r.other_user_id]
    if selfish:
        raise ApiError(
            422,
            "self_relation",
            f"body.{selfish[0]}: a user cannot be related to themselves",
            [
                {"type": "self_relation", "loc": ["body", i], "index": i}
                for i in selfish[:MAX_DETAILS]
            ],
        )
    new = store.relations.add([r.model_dump() for r in relations])
    return WriteResult(accepted=new, duplicates=len(relations) - new)


@router.get(
    "/users/{user_id}/relations", response_model=Page[RelationPublic], summary="A user's relations"
)
def user_relations(user_id: UserIdPath, store: StoreDep) -> Page[RelationPublic]:
    """Relations with the user on either side, outgoing first; all of them on one page."""
    if store.users.get(user_id) is None:
        raise user_not_found(user_id)
    rows = [
        RelationPublic(
            user_id=r["user_id"],
            other_user_id=r["other_user_id"],
            type=r["type"],
            created_at=iso(r["created_at"]) or "",
        )
        for r in store.relations.for_user(user_id)
    ]
    return Page[RelationPublic](data=rows, count=len(rows), next_cursor=None)
