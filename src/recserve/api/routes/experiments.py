"""A/B experiments: define one on a scenario (variants = model versions or other scenarios'
champions, with traffic shares), list them, read one with its online metrics, stop it.

Defining, starting and stopping need the ``admin`` scope; reads need ``read``. A change is
applied to this replica at once; other replicas pick it up within a second or so.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from recserve.algorithms.global_ranking import GlobalRanking
from recserve.api.deps import EngineDep, SettingsDep, StoreDep, require
from recserve.api.errors import ApiError
from recserve.config import Scope
from recserve.experiments import Experiment, InvalidExperiment, Variant, experiment_metrics
from recserve.experiments.definition import GLOBAL_SCENARIOS, validate
from recserve.registry import ArtifactError
from recserve.schemas import ErrorBody
from recserve.schemas.experiments import (
    ExperimentCreate,
    ExperimentDetail,
    ExperimentInfo,
    ExperimentList,
    ExperimentMetrics,
    VariantInfo,
)
from recserve.schemas.models import NAME
from recserve.serving import ServingEngine
from recserve.store.experiments import ExperimentConflict

router = APIRouter(tags=["experiments"])
ADMIN = [Depends(require(Scope.ADMIN))]

ExperimentIdPath = Annotated[str, Path(pattern=NAME, description="The experiment's id.")]

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such experiment (experiment_not_found)"}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Id taken, scenario busy, or stopped"}
}

# helpers ----------------------------------------------------------------------------------


def _info(experiment: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": experiment.experiment_id,
        "scenario": experiment.scenario,
        "status": experiment.status,
        "variants": [
            VariantInfo(
                name=v.name, share=v.share, model=v.model, scenario=v.scenario, source=v.source
            )
            for v in experiment.variants
        ],
        "click_types": list(experiment.click_types),
        "conversion_types": list(experiment.conversion_types),
        "description": experiment.description,
        "created_at": experiment.created_at,
        "started_at": experiment.started_at,
        "stopped_at": experiment.stopped_at,
    }


def _found(row: dict[str, Any] | None, experiment_id: str) -> Experiment:
    if row is None:
        raise ApiError(404, "experiment_not_found", f"no experiment {experiment_id!r}")
    return Experiment.from_row(row)


def _check_servable(experiment: Experiment, engine: ServingEngine, feedback: Any) -> None:
    """Refuse what could not be served or measured: unknown event types, a variant's
    scenario with no champion, a model version that is missing or does not load."""
    for kind in (*experiment.click_types, *experiment.conversion_types):
        if kind not in feedback:
            raise ApiError(422, "unknown_event_type", f"{kind!r} is not a configured feedback type")
    served = engine.served()
    for variant in experiment.variants:
        if variant.scenario is not None and variant.scenario not in served:
            raise ApiError(
                422,
                "invalid_variant",
                f"variant {variant.name!r}: no champion serves {variant.scenario!r} yet",
            )
    try:
        models = engine.experiments.prepare(experiment)
    except ArtifactError as exc:
        raise ApiError(422, "invalid_model_ref", f"refused: {exc}") from None
    if experiment.scenario in GLOBAL_SCENARIOS:
        for ref, model in models.items():
            if not isinstance(model.model, GlobalRanking):
                raise ApiError(
                    422,
                    "invalid_model_ref",
                    f"{ref} is not a global ranking (popular, trending, latest ...): it "
                    f"cannot serve {experiment.scenario!r}",
                )


def _conflict(exc: ExperimentConflict) -> ApiError:
    return ApiError(409, exc.code, str(exc))


# routes -----------------------------------------------------------------------------------


@router.post(
    "/experiments",
    status_code=201,
    response_model=ExperimentInfo,
    dependencies=ADMIN,
    responses=CONFLICT,
    summary="Define an A/B experiment on a scenario",
)
def create_experiment(
    body: ExperimentCreate, store: StoreDep, engine: EngineDep, settings: SettingsDep
) -> ExperimentInfo:
    """Users are split by a stable hash of (experiment_id, user_id) into the variants by
    their shares. While it runs, the scenario's lists say ``experiment`` and ``variant``."""
    try:
        experiment = validate(
            Experiment(
                experiment_id=body.experiment_id,
                scenario=body.scenario,
                variants=tuple(Variant.parse(v.model_dump()) for v in body.variants),
                status=body.status,
                click_types=tuple(dict.fromkeys(body.click_types)),
                conversion_types=tuple(dict.fromkeys(body.conversion_types)),
                description=body.description,
            )
        )
    except InvalidExperiment as exc:
        raise ApiError(422, exc.code, str(exc)) from None
    _check_servable(experiment, engine, settings.feedback_types)
    try:
        row = store.experiments.create(experiment.to_row())
    except ExperimentConflict as exc:
        raise _conflict(exc) from None
    engine.experiments.reload()
    return ExperimentInfo(**_info(Experiment.from_row(row)))


@router.get("/experiments", response_model=ExperimentList, summary="Experiments, newest first")
def list_experiments(
    store: StoreDep,
    status: Annotated[
        Literal["draft", "running", "stopped"] | None, Query(description="Only this status.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ExperimentList:
    rows = store.experiments.recent(status, limit)
    return ExperimentList(data=[ExperimentInfo(**_info(Experiment.from_row(r))) for r in rows])


@router.get(
    "/experiments/{experiment_id}",
    response_model=ExperimentDetail,
    responses=NOT_FOUND,
    summary="An experiment with its online metrics per variant",
)
def get_experiment(
    experiment_id: ExperimentIdPath, store: StoreDep, engine: EngineDep
) -> ExperimentDetail:
    """CTR and conversion rate per variant with 95% Wilson intervals, and each variant
    against the first with a two-proportion z-test, from feedback events that carry the
    lists' ``recommendation_id``."""
    experiment = _found(store.experiments.get(experiment_id), experiment_id)
    engine.experiments.flush()  # the lists this replica served so far are counted
    metrics = experiment_metrics(store.experiments, experiment)
    return ExperimentDetail(**_info(experiment), metrics=ExperimentMetrics(**metrics))


@router.post(
    "/experiments/{experiment_id}/start",
    response_model=ExperimentInfo,
    dependencies=ADMIN,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Start a draft experiment",
)
def start_experiment(
    experiment_id: ExperimentIdPath, store: StoreDep, engine: EngineDep, settings: SettingsDep
) -> ExperimentInfo:
    experiment = _found(store.experiments.get(experiment_id), experiment_id)
    _check_servable(experiment, engine, settings.feedback_types)
    try:
        row = store.experiments.start(experiment_id)
    except ExperimentConflict as exc:
        raise _conflict(exc) from None
    engine.experiments.reload()
    return ExperimentInfo(**_info(_found(row, experiment_id)))


@router.post(
    "/experiments/{experiment_id}/stop",
    response_model=ExperimentDetail,
    dependencies=ADMIN,
    responses=NOT_FOUND,
    summary="Stop an experiment: its scenario goes back to the champion",
)
def stop_experiment(
    experiment_id: ExperimentIdPath, store: StoreDep, engine: EngineDep
) -> ExperimentDetail:
    """Idempotent; the final metrics stay readable."""
    _found(store.experiments.get(experiment_id), experiment_id)
    experiment = _found(store.experiments.stop(experiment_id), experiment_id)
    engine.experiments.reload()
    engine.experiments.flush()
    metrics = experiment_metrics(store.experiments, experiment)
    return ExperimentDetail(**_info(experiment), metrics=ExperimentMetrics(**metrics))
