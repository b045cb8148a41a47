"""Training jobs: status, progress and results, read from the store so any replica answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from recserve.api.deps import StoreDep
from recserve.api.errors import ApiError
from recserve.schemas import ErrorBody

router = APIRouter(tags=["training"])


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


def job_status(row: dict[str, Any]) -> JobStatus:
    return JobStatus.model_validate({k: row.get(k) for k in JobStatus.model_fields})


JobIdPath = Annotated[str, Path(min_length=1, max_length=64, description="The job's id.")]


@router.get("/jobs", response_model=JobList, summary="Recent training jobs, newest first")
def list_jobs(
    store: StoreDep, limit: Annotated[int, Query(ge=1, le=100, description="How many.")] = 20
) -> JobList:
    return JobList(data=[job_status(row) for row in store.jobs.recent(limit)])


@router.get(
    "/jobs/{job_id}",
    response_model=JobStatus,
    responses={404: {"model": ErrorBody, "description": "No such job (job_not_found)"}},
    summary="A training job's status, progress and results",
)
def get_job(job_id: JobIdPath, store: StoreDep) -> JobStatus:
    row = store.jobs.get(job_id)
    if row is None:
        raise ApiError(404, "job_not_found", f"no training job with id {job_id!r}")
    return job_status(row)
