"""/v1/items: the catalogue. Hiding or deleting an item takes it out of served models at once."""

from __future__ import annotations

from fastapi import APIRouter, Response

from recserve.api.deps import EngineDep, EntityCursor, ItemIdPath, LimitQuery, SettingsDep, StoreDep
from recserve.api.routes._shared import check_batch, item_not_found, nullable_changes
from recserve.schemas import ItemCreate, ItemPublic, ItemUpdate, Page, WriteResult
from recserve.store.entities import ITEM_DEFAULTS

router = APIRouter(prefix="/items", tags=["items"])


@router.post("", response_model=WriteResult, summary="Create or replace items (batch)")
def upsert_items(
    items: list[ItemCreate], store: StoreDep, engine: EngineDep, settings: SettingsDep
) -> WriteResult:
    """Each row replaces every field of the stored item; within a batch the last row wins."""
    check_batch(items, settings)
    accepted = store.items.upsert([item.model_dump() for item in items])
    for item in items:  # in order, so the last row for an id wins here too
        engine.set_item_blocked(item.item_id, item.hidden)
    engine.items_changed([item.item_id for item in items])  # categories, attributes
    engine.observe_items([item.item_id for item in items])  # content models place new items
    return WriteResult(accepted=accepted)


@router.get("", response_model=Page[ItemPublic], summary="List items by item_id")
def list_items(store: StoreDep, cursor: EntityCursor, limit: LimitQuery = 100) -> Page[ItemPublic]:
    rows, next_cursor = store.items.page(cursor, limit)
    return Page[ItemPublic](
        data=[ItemPublic.from_row(r) for r in rows], count=len(rows), next_cursor=next_cursor
    )


@router.get("/{item_id}", response_model=ItemPublic, summary="Get one item")
def get_item(item_id: ItemIdPath, store: StoreDep) -> ItemPublic:
    row = store.items.get(item_id)
    if row is None:
        raise item_not_found(item_id)
    return ItemPublic.from_row(row)


@router.patch("/{item_id}", response_model=ItemPublic, summary="Change some fields of an item")
def patch_item(
    item_id: ItemIdPath, changes: ItemUpdate, store: StoreDep, engine: EngineDep
) -> ItemPublic:
    """Only the fields present in the body change; ``hidden`` applies to serving at once."""
    update = nullable_changes(changes.model_dump(exclude_unset=True), ITEM_DEFAULTS)
    row = store.items.patch(item_id, update)
    if row is None:
        raise item_not_found(item_id)
    if "hidden" in update:
        engine.set_item_blocked(item_id, bool(update["hidden"]))
    engine.items_changed([item_id])  # categories, attributes
    engine.observe_items([item_id])  # content models re-encode a changed item
    return ItemPublic.from_row(row)


@router.delete("/{item_id}", status_code=204, summary="Delete an item and its events")
def delete_item(item_id: ItemIdPath, store: StoreDep, engine: EngineDep) -> Response:
    if not store.delete_item(item_id):
        raise item_not_found(item_id)
    engine.set_item_blocked(item_id, True)
    return Response(status_code=204)
