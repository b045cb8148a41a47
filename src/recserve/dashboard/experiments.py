"""The experiments page: every A/B experiment with its online metrics per variant (CTR and
conversion with 95% intervals, each variant against the control), and forms to define a
two-variant experiment, start a draft and stop a running one.

The form preselects a treatment that suits the scenario (``treatments.py``), and defining a
running experiment goes through a confirmation page first: it changes what live users see.

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
from recserve.dashboard.treatments import default_treatments, treatments

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
    champions = registry.champions()
    options = treatments(registry.list_versions(), champions, registry.history())
    scenarios = known_scenarios()
    return render(
        request,
        "experiments.html.j2",
        page="experiments",
        experiments=[(d, _ctr_chart(d)) for d in details],
        scenarios=scenarios,
        treatments=options,
        defaults=default_treatments(options, champions, scenarios),
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
    request: Request,
    _: AdminDep,
    store: StoreDep,
    engine: EngineDep,
    settings: SettingsDep,
    registry: RegistryDep,
    experiment_id: Text,
    treatment: Text,
    scenario: Text = "recommended",
    share: Annotated[float, Form(gt=0, lt=1)] = 0.5,
    description: Annotated[str, Form(max_length=2000)] = "",
    confirmed: Annotated[bool, Form()] = False,
) -> Response:
    """Control: the scenario's champion; treatment: a model version or another scenario.
    Without ``confirmed`` nothing is created: a page says what would change and asks."""
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
        if not confirmed:
            return _confirmation(request, body, treatment, registry)
        created = routes.create_experiment(body, store, engine, settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return back(PAGE, error=f"{where}: {first['msg']}")
    except ApiError as exc:
        return back(PAGE, error=exc.message)
    return back(PAGE, flash=f"experiment {created.experiment_id} is {created.status}")


def _confirmation(
    request: Request, body: routes.ExperimentCreate, treatment: str, registry: Any
) -> HTMLResponse:
    """The page that says what starting the experiment changes, with the form to confirm."""
    champions = registry.champions()
    suits: tuple[str, ...] | None = None
    if not treatment.startswith("scenario:"):
        known = {
            t.ref: t for t in treatments(registry.list_versions(), champions, registry.history())
        }
        suits = known[treatment].scenarios if treatment in known else ()
    return render(
        request,
        "experiment_confirm.html.j2",
        page="experiments",
        body=body,
        treatment=treatment,
        share=body.variants[1].share,
        champion=champions.get(body.scenario),
        suits=suits,
    )


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
