"""Batch recommendation jobs: start one, follow it, download its JSON lines.

Every route needs the ``admin`` scope: a job reads every user's lists and keeps the API
process busy. The job runs in the API process (recserve.batch.jobs), so its lists are the
ones ``GET /v1/users/{id}/recommendations`` answers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import FileResponse

from recserve.api.deps import SettingsDep, StoreDep, require
from recserve.api.errors import ApiError
from recserve.batch.jobs import BatchJobRunning, BatchRunner
from recserve.config import Scope
from recserve.schemas import ErrorBody
from recserve.schemas.batch import BatchJobStatus, BatchRequest
from recserve.store.jobs import SUCCEEDED

router = APIRouter(tags=["batch"], dependencies=[Depends(require(Scope.ADMIN))])

JobIdPath = Annotated[str, Path(min_length=1, max_length=64, description="The job's id.")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such batch job (job_not_found)"}
}


def get_runner(request: Request) -> BatchRunner:
    return request.app.state.batch_runner


def batch_status(row: dict[str, Any]) -> BatchJobStatus:
    return BatchJobStatus.model_validate({k: row.get(k) for k in BatchJobStatus.model_fields})


def _job(store: StoreDep, job_id: str) -> dict[str, Any]:
    row = store.batch_jobs.get(job_id)
    if row is None:
        raise ApiError(404, "job_not_found", f"no batch job with id {job_id!r}")
    return row


@router.post(
    "/recommendations/batch",
    status_code=202,
    response_model=BatchJobStatus,
    responses={409: {"model": ErrorBody, "description": "A batch job is running"}},
    summary="Start a batch job: recommendations for every user or listed users",
)
def start_batch(
    body: BatchRequest,
    settings: SettingsDep,
    runner: Annotated[BatchRunner, Depends(get_runner)],
    response: Response,
) -> BatchJobStatus:
    """Follow the job at ``GET /v1/recommendations/batch/{job_id}`` (the ``Location``
    header); once it succeeded, its result is one JSON line per user at ``.../result``.
    One job at a time: 409 ``job_already_running`` while another is queued or running."""
    if body.n > settings.max_n:
        raise ApiError(422, "validation_error", f"body.n: must be between 1 and {settings.max_n}")
    try:
        job = runner.submit(body.model_dump())
    except BatchJobRunning as exc:
        raise ApiError(
            409,
            "job_already_running",
            f"batch job {exc.job_id} is still running; wait for it to finish",
            [{"job_id": exc.job_id}],
        ) from None
    response.headers["Location"] = f"/v1/recommendations/batch/{job['job_id']}"
    return batch_status(job)


@router.get(
    "/recommendations/batch/{job_id}",
    response_model=BatchJobStatus,
    responses=NOT_FOUND,
    summary="A batch job's status, progress and results",
)
def get_batch(job_id: JobIdPath, store: StoreDep) -> BatchJobStatus:
    return batch_status(_job(store, job_id))


@router.get(
    "/recommendations/batch/{job_id}/result",
    response_class=FileResponse,
    responses={
        **NOT_FOUND,
        200: {"content": {"application/x-ndjson": {}}, "description": "One JSON line per user"},
        409: {"model": ErrorBody, "description": "The job has not succeeded (job_not_done)"},
    },
    summary="A finished batch job's recommendations as JSON lines",
)
def get_batch_result(
    job_id: JobIdPath, store: StoreDep, runner: Annotated[BatchRunner, Depends(get_runner)]
) -> FileResponse:
    """``{"user_id", "items": [{"item_id", "score"}], "model", "experiment", "variant"}``
    per line, users in id order (or in the listed order)."""
    row = _job(store, job_id)
    if row["status"] != SUCCEEDED:
        raise ApiError(409, "job_not_done", f"batch job {job_id} is {row['status']}")
    path = runner.result_path(row["job_id"])
    if not path.is_file():
        raise ApiError(404, "result_missing", f"the result of batch job {job_id} was removed")
    return FileResponse(path, media_type="application/x-ndjson", filename=path.name)
