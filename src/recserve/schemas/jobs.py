"""Response shapes of the training-job endpoints (``GET /v1/jobs``, ``/v1/jobs/{id}``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class JobStatus(BaseModel):
    """One training job: where it is and, once done, what each model scored and whether it
    was promoted (``results.models[name].promoted_to`` / ``not_promoted``)."""

    job_id: str
    status: str = Field(description="queued, running, succeeded or failed")
    trigger: str = Field(description="api, schedule, cli or startup")
    request: dict[str, Any]
    progress: float = Field(description="fraction done, 0 to 1")
    step: str | None = Field(description="what the job is doing now")
    results: dict[str, Any] = Field(
        description="data statistics, the split, the model search (every trial: family, "
        "params, validation ndcg@10, seconds, state, error), per-model metrics, versions "
        "and promotion"
    )
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None


class JobList(BaseModel):
    data: list[JobStatus]
