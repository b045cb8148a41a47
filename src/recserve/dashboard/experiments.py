"""The experiments page: every A/B experiment with its online metrics per variant (CTR and
conversion with 95% intervals, each variant against the control), and forms to define a
two-variant experiment, start a draft and stop a running one.

Reads and writes go through the route functions of ``recserve.api.routes.experiments``,
so the dashboard shows and does exactly what ``/v1/experiments`` does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from recserve.api.deps import EngineDep, RegistryDep, SettingsDep, StoreDep
from recserve.api.errors import ApiError
from recserve.api.routes import experiments as routes
from recserve.api.routes.models import known_scenarios
from recserve.dashboard import charts
from recserve.dashboard.actions import back
from recserve.dashboard.auth import AdminDep, CsrfDep
from recserve.dashboard.render import render

pages = APIRouter(include_in_schema=False)
actions = APIRouter(include_in_schema=False, dependencies=[CsrfDep])
PAGE = "/dashboard/experiments"
SHOWN = 20  # experiments whose metrics are computed for the page

IdPath = routes.ExperimentIdPath
Text = Annotated[str, Form(max_length=200)]


@pages.get(PAGE, response_class=HTMLResponse)
def experiments_page(
    request: Request, _: AdminDep, store: StoreDep, engine: EngineDep, registry: RegistryDep
) -> HTMLResponse:
    listed = routes.list_experiments(store, None, SHOWN).data
    details = [routes.get_experiment(e.experiment_id, store, engine) for e in listed]
    return render(
        request,
        "experiments.html.j2",
        page="experiments",
        experiments=[(d, _ctr_chart(d)) for d in details],
        scenarios=known_scenarios(),
        versions=[v.ref for v in registry.list_versions()],
    )


def _ctr_chart(detail: Any) -> Any:
    rows = [
        (v.variant, v.ctr.rate, v.ctr.low, v.ctr.high)
        for v in detail.metrics.variants
        if v.ctr.rate is not None
    ]
    return charts.interval_bars(rows, "CTR") if rows else None


@actions.post(PAGE)
def create(
    _: AdminDep,
    store: StoreDep,
    engine: EngineDep,
    settings: SettingsDep,
    experiment_id: Text,
    treatment: Text,
    scenario: Text = "recommended",
    share: Annotated[float, Form(gt=0, lt=1)] = 0.5,
    description: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Control: the scenario's champion; treatment: a model version or another scenario."""
    variant: dict[str, Any] = {"name": "treatment", "share": round(share, 6)}
    if treatment.startswith("scenario:"):
        variant["scenario"] = treatment.removeprefix("scenario:")
    else:
        variant["model"] = treatment
    try:
        body = routes.ExperimentCreate.model_validate(
            {
                "experiment_id": experiment_id,
                "scenario": scenario,
                "variants": [{"name": "control", "share": round(1 - share, 6)}, variant],
                "description": description or None,
            }
        )
        created = routes.create_experiment(body, store, engine, settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return back(PAGE, error=f"{where}: {first['msg']}")
    except ApiError as exc:
        return back(PAGE, error=exc.message)
    return back(PAGE, flash=f"experiment {created.experiment_id} is {created.status}")


@actions.post(PAGE + "/{experiment_id}/start")
def start(
    _: AdminDep, experiment_id: IdPath, store: StoreDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    try:
        routes.start_experiment(experiment_id, store, engine, settings)
    except ApiError as exc:
        return back(PAGE, error=exc.message)
    return back(PAGE, flash=f"experiment {experiment_id} started")


@actions.post(PAGE + "/{experiment_id}/stop")
def stop(_: AdminDep, experiment_id: IdPath, store: StoreDep, engine: EngineDep) -> Response:
    try:
        routes.stop_experiment(experiment_id, store, engine)
    except ApiError as exc:
        return back(PAGE, error=exc.message)
    return back(PAGE, flash=f"experiment {experiment_id} stopped")
