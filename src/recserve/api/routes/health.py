"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter

from recserve.api.deps import EngineDep, StoreDep
from recserve.api.errors import ApiError
from recserve.schemas import ErrorBody, HealthStatus, ReadyStatus
from recserve.serving.served import REQUIRED_SCENARIOS as SCENARIOS

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthStatus, summary="The process is up")
def health() -> HealthStatus:
    return HealthStatus(status="ok")


@router.get(
    "/ready",
    response_model=ReadyStatus,
    responses={503: {"model": ErrorBody, "description": "The database or the models are missing"}},
    summary="The database answers and a model serves every scenario",
)
def ready(store: StoreDep, engine: EngineDep) -> ReadyStatus:
    database = store.ping()
    served = {scenario: model.ref for scenario, model in engine.served().items()}
    missing = [s for s in SCENARIOS if s not in served]
    if database and not missing:
        return ReadyStatus(status="ready", database=True, models=served)
    parts = ([] if database else ["database"]) + [f"model for {s!r}" for s in missing]
    details = [{"component": "database", "ready": database}] + [
        {"component": "model", "scenario": s, "ready": s in served} for s in SCENARIOS
    ]
    raise ApiError(503, "not_ready", f"not ready: missing {', '.join(parts)}", details)
