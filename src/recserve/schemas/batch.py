"""Request and response shapes of the batch recommendation jobs
(``/v1/recommendations/batch``). Pydantic only: the Python client imports them without
the server."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from recserve.schemas import ExternalId

MAX_LISTED_USERS = 100_000
BatchScenario = Literal["recommended", "popular", "trending", "latest"]


class BatchRequest(BaseModel):
    """What to export: the top ``n`` of ``scenario`` for every user, or the listed ones."""

    model_config = ConfigDict(extra="forbid")

    users: list[ExternalId] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LISTED_USERS,
        description="Only these users (unknown ones are reported in the results); "
        "leave out for every user in the store.",
    )
    n: int = Field(default=10, ge=1, description="Items per user (at most max_n).")
    scenario: BatchScenario = "recommended"


class BatchJobStatus(BaseModel):
    """One batch job: where it is and, once done, what it wrote."""

    job_id: str
    status: str = Field(description="queued, running, succeeded or failed")
    request: dict[str, Any]
    progress: float = Field(description="fraction of the users done, 0 to 1")
    step: str | None = Field(description="what the job is doing now")
    results: dict[str, Any] = Field(
        description="users written, unknown_users (count) and unknown_user_ids (the first "
        "100), models (users each model answered), result_url"
    )
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
