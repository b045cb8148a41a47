"""Model versions, champions per scenario, promotion, rollback and starting training jobs.

Reads need the ``read`` scope; every write here (train, promote, rollback) needs ``admin``.
A promotion or rollback is applied to this replica's engine at once; other replicas get it
through Redis within a second when ``redis_url`` is set (docs/scaling.md), else at their
next champion poll (``model_poll_seconds``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from recserve.algorithms import FAMILIES
from recserve.api.deps import EngineDep, RegistryDep, require
from recserve.api.errors import ApiError
from recserve.api.routes.jobs import job_status
from recserve.config import Scope
from recserve.registry import ArtifactError, ModelVersion, NoPreviousChampion
from recserve.schemas import ErrorBody
from recserve.schemas.jobs import JobStatus
from recserve.schemas.models import (
    NAME,
    ModelList,
    PromoteRequest,
    ScenarioInfo,
    ScenarioList,
    TrainRequest,
    VersionInfo,
)
from recserve.serving.served import SCENARIOS
from recserve.training.jobs import JobAlreadyRunning, JobRunner
from recserve.training.pipeline import DEFAULT_MODELS, OPTIONAL_MODELS, select_models
from recserve.training.request import TrainingRequest

router = APIRouter(tags=["models"])
ADMIN = [Depends(require(Scope.ADMIN))]

NamePath = Annotated[str, Path(pattern=NAME, description="The model's name, e.g. item_knn.")]
VersionPath = Annotated[str, Path(pattern=r"^v\d{1,9}$", description="e.g. v0003.")]
ScenarioPath = Annotated[str, Path(pattern=NAME, description="e.g. recommended.")]


def known_scenarios() -> list[str]:
    """The scenarios served plus those the default models are trained for."""
    specs = [*DEFAULT_MODELS.values(), *OPTIONAL_MODELS.values()]
    extra = (s for _, _, served in specs for s in served)
    return list(dict.fromkeys([*SCENARIOS, *extra]))


def check_scenario(scenario: str) -> str:
    if scenario not in known_scenarios():
        raise ApiError(
            422,
            "unknown_scenario",
            f"unknown scenario {scenario!r}; known: {', '.join(known_scenarios())}",
        )
    return scenario


def _info(version: ModelVersion, champions: dict[str, str]) -> VersionInfo:
    manifest = version.manifest
    return VersionInfo(
        name=version.name,
        version=version.version,
        ref=version.ref,
        family=manifest.get("family"),
        created_at=manifest.get("created_at"),
        metrics=manifest.get("metrics") or {},
        champion_of=sorted(s for s, ref in champions.items() if ref == version.ref),
        manifest=manifest,
    )


def _scenario(scenario: str, registry: Any, engine: Any) -> ScenarioInfo:
    served = engine.served().get(scenario)
    return ScenarioInfo(
        scenario=scenario,
        champion=registry.champions().get(scenario),
        serving=served.ref if served is not None else None,
        history=registry.history().get(scenario, []),
    )


def get_runner(request: Request) -> JobRunner:
    return request.app.state.job_runner


RunnerDep = Annotated[JobRunner, Depends(get_runner)]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The request conflicts with the state"}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such model version"}
}

# routes -----------------------------------------------------------------------------------


@router.post(
    "/models/train",
    status_code=202,
    response_model=JobStatus,
    dependencies=ADMIN,
    responses={**CONFLICT, 422: {"model": ErrorBody, "description": "Unknown model or scenario"}},
    summary="Start a training job in a worker process",
)
def train(body: TrainRequest, runner: RunnerDep, response: Response) -> JobStatus:
    """Snapshot, holdout split, fit, evaluate, promote by ``promote``; follow the job at
    ``GET /v1/jobs/{job_id}`` (also in the ``Location`` header). One job at a time: 409
    ``job_already_running`` while another is queued or running."""
    for scenario in body.scenarios or []:
        check_scenario(scenario)
    try:
        if not select_models(body.models, body.scenarios) and "recommended" not in (
            body.scenarios or []
        ):
            raise ValueError("no default model serves the requested scenarios")
        unknown = sorted(set(body.families or []) - set(FAMILIES))
        if unknown:
            raise ValueError(f"unknown families {unknown}; known: {sorted(FAMILIES)}")
    except ValueError as exc:
        raise ApiError(422, "unknown_model", str(exc)) from None
    try:
        job = runner.submit(TrainingRequest.from_dict(body.model_dump()), trigger="api")
    except JobAlreadyRunning as exc:
        raise ApiError(
            409,
            "job_already_running",
            f"training job {exc.job_id} is still running; wait for it to finish",
            [{"job_id": exc.job_id}],
        ) from None
    response.headers["Location"] = f"/v1/jobs/{job['job_id']}"
    return job_status(job)


@router.get("/models", response_model=ModelList, summary="Model versions with metrics")
def list_models(
    registry: RegistryDep,
    name: Annotated[str | None, Query(pattern=NAME, description="Only this model.")] = None,
) -> ModelList:
    champions = registry.champions()
    return ModelList(
        versions=[_info(v, champions) for v in registry.list_versions(name)],
        champions=champions,
    )


@router.get(
    "/models/{name}/{version}",
    response_model=VersionInfo,
    responses=NOT_FOUND,
    summary="One model version's manifest",
)
def get_model(name: NamePath, version: VersionPath, registry: RegistryDep) -> VersionInfo:
    try:
        manifest = registry.manifest(name, version)
    except ArtifactError as exc:
        raise ApiError(404, "model_version_not_found", str(exc)) from None
    return _info(ModelVersion(name, version, manifest), registry.champions())


@router.post(
    "/models/{name}/{version}/promote",
    response_model=ScenarioInfo,
    dependencies=ADMIN,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Make a version the champion of a scenario",
)
def promote(
    name: NamePath,
    version: VersionPath,
    body: PromoteRequest,
    registry: RegistryDep,
    engine: EngineDep,
) -> ScenarioInfo:
    """The artifact is verified (checksums, family, loading) first: a corrupt or mismatched
    one is refused with 409 ``artifact_rejected`` and the current champion keeps serving."""
    check_scenario(body.scenario)
    if version not in registry.versions(name):
        raise ApiError(404, "model_version_not_found", f"no model version {name}/{version}")
    try:
        registry.promote(body.scenario, name, version)
    except ArtifactError as exc:
        raise ApiError(409, "artifact_rejected", f"refused: {exc}") from None
    engine.refresh()
    return _scenario(body.scenario, registry, engine)


@router.post(
    "/scenarios/{scenario}/rollback",
    response_model=ScenarioInfo,
    dependencies=ADMIN,
    responses=CONFLICT,
    summary="Return a scenario to its previous champion",
)
def rollback(scenario: ScenarioPath, registry: RegistryDep, engine: EngineDep) -> ScenarioInfo:
    check_scenario(scenario)
    try:
        registry.rollback(scenario)
    except NoPreviousChampion as exc:
        raise ApiError(409, "no_previous_champion", str(exc)) from None
    engine.refresh()
    return _scenario(scenario, registry, engine)


@router.get("/scenarios", response_model=ScenarioList, summary="The champion of each scenario")
def list_scenarios(registry: RegistryDep, engine: EngineDep) -> ScenarioList:
    names = dict.fromkeys([*known_scenarios(), *registry.champions()])
    return ScenarioList(data=[_scenario(s, registry, engine) for s in names])
