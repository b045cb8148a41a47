"""Shapes of the LLM stage: what a list answered with ``llm=`` carries, and the enrichment
job's request and answer (docs/language.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from recserve.schemas import ExternalId
from recserve.schemas.scenarios import ListResponse

LLM_TASKS = ("rerank", "explain", "themes")
FALLBACK_DESCRIPTION = (
    "Why the LLM's answer was not used (the list is then the one without it): timeout, "
    "busy, budget, unavailable, http_error, invalid"
)


class LlmTask(BaseModel):
    task: str = Field(description="rerank, explain or themes")
    applied: bool
    fallback: str | None = Field(default=None, description=FALLBACK_DESCRIPTION)
    cached: bool = Field(default=False, description="Answered from the cache of LLM answers")


class LlmReason(BaseModel):
    item_id: str
    why: str


class LlmInfo(BaseModel):
    """What the LLM stage did to a list."""

    applied: bool = Field(description="Every task asked got the LLM's answer")
    fallback: str | None = Field(
        default=None,
        description="The first task's fallback reason, if any: " + FALLBACK_DESCRIPTION,
    )
    tasks: list[LlmTask]
    summary: str | None = Field(default=None, description="explain: why the list suits the user")
    reasons: list[LlmReason] = Field(default_factory=list, description="explain: per item")
    themes: list[str] = Field(default_factory=list, description='themes: e.g. "Cosy mysteries"')
    tokens: int = Field(default=0, description="Tokens this answer spent (0 when cached)")


class LlmListResponse(ListResponse):
    llm: LlmInfo | None = Field(
        default=None,
        description="Only when the LLM stage ran (llm_url set, and llm= asked or the "
        "scenario is in llm_rerank_scenarios); absent otherwise",
    )


class EnrichRequest(BaseModel):
    item_ids: list[ExternalId] | None = Field(
        default=None, max_length=1000, description="These items; default: items without text"
    )
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many items")


class EnrichedItem(BaseModel):
    item_id: str
    status: str = Field(
        description="enriched; skipped (it has text); failed (see fallback); not_found"
    )
    fields: list[str] = Field(default_factory=list, description="What was filled in")
    fallback: str | None = Field(default=None, description="failed: " + FALLBACK_DESCRIPTION)


class EnrichResponse(BaseModel):
    enriched: int
    skipped: int
    failed: int
    items: list[EnrichedItem]
    tokens: int
