"""POST /v1/items/enrich: summaries and tags written by the LLM for items without text
(recserve/llm/enrich.py). Admin scope; idempotent; never overwrites what a user wrote."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from recserve.api.deps import EngineDep, StoreDep, require
from recserve.api.errors import ApiError
from recserve.config import Scope
from recserve.llm.enrich import ENRICHED, FAILED, SKIPPED, enrich_items, items_without_text
from recserve.llm.stage import LlmStage
from recserve.schemas.llm import EnrichedItem, EnrichRequest, EnrichResponse

router = APIRouter(tags=["items"], dependencies=[Depends(require(Scope.ADMIN))])


def llm_not_configured() -> ApiError:
    return ApiError(
        400,
        "llm_not_configured",
        "this server has no LLM stage: set llm_url (RECSERVE_LLM_URL) to enrich items",
    )


@router.post(
    "/items/enrich",
    response_model=EnrichResponse,
    summary="Write a summary and tags for items without text (LLM)",
)
def enrich(
    body: EnrichRequest, request: Request, store: StoreDep, engine: EngineDep
) -> EnrichResponse:
    """Items without text (the first ``limit`` by id, or the listed ones) get the LLM's
    summary as ``text`` and its tags as ``tags`` when they have none, through the ordinary
    item update: search and content models use them. An item with text is skipped, so a
    second call changes nothing. Each item's call has the LLM deadline; an item whose call
    fails is reported ``failed`` with the reason and left as it was."""
    stage: LlmStage | None = request.app.state.llm
    if stage is None:
        raise llm_not_configured()
    if body.item_ids is not None:
        item_ids = list(dict.fromkeys(body.item_ids))[: body.limit]
    else:
        item_ids = items_without_text(store, body.limit)
    client = stage.client
    results = list(enrich_items(client, store, item_ids, client.max_concurrency))
    changed = [r.item_id for r in results if r.status == ENRICHED]
    if changed:  # as PATCH /v1/items/{id} does
        engine.items_changed(changed)
        engine.observe_items(changed)
    return EnrichResponse(
        enriched=len(changed),
        skipped=sum(r.status == SKIPPED for r in results),
        failed=sum(r.status == FAILED for r in results),
        items=[
            EnrichedItem(item_id=r.item_id, status=r.status, fields=r.fields, fallback=r.fallback)
            for r in results
        ],
        tokens=sum(r.tokens for r in results),
    )
