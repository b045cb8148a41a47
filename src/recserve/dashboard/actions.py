"""The dashboard's actions (POST): log in and out, promote, roll back, train, import.

Each goes through the code the API runs for the same action (the route functions of
``recserve.api.routes.models``, the job runner on ``app.state``, ``recserve.importers``),
so a promotion from here is verified and applied exactly like ``POST .../promote``. Every
action checks the CSRF token; the result comes back as a redirect with a flash message.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from recserve.api.deps import EngineDep, RegistryDep, SettingsDep, StoreDep
from recserve.api.errors import ApiError
from recserve.api.routes import models as model_routes
from recserve.dashboard.auth import (
    KEY_COOKIE,
    AdminDep,
    CsrfDep,
    check_key,
    keys_configured,
    safe_next,
    set_cookie,
)
from recserve.dashboard.render import render
from recserve.importers import KINDS, ImportFailed, ImportValidationError, import_source
from recserve.importers.generic import EXTENSIONS

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])

NamePath = model_routes.NamePath
VersionPath = model_routes.VersionPath
ScenarioPath = model_routes.ScenarioPath
ScenarioField = Annotated[str, Form(max_length=64)]


def back(path: str, **message: str) -> RedirectResponse:
    """A 303 to ``path`` carrying ``flash`` or ``error`` for the next page to show."""
    query = urlencode({k: v[:500] for k, v in message.items()})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


# session ----------------------------------------------------------------------------------


@router.post("/dashboard/login", response_class=HTMLResponse)
def login(
    request: Request,
    key: Annotated[str, Form(max_length=4096)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if not keys_configured(request):
        return back(safe_next(next))
    try:
        check_key(request, key)
    except ApiError as exc:
        return render(
            request, "login.html.j2", status_code=exc.status, page="login", next=safe_next(next),
            error=exc.message,
        )  # fmt: skip
    response = back(safe_next(next))
    set_cookie(request, response, KEY_COOKIE, key)
    return response


@router.post("/dashboard/logout")
def logout() -> Response:
    response = back("/dashboard/login")
    response.delete_cookie(KEY_COOKIE, path="/")
    return response


# models -----------------------------------------------------------------------------------


@router.post("/dashboard/models/{name}/{version}/promote")
def promote(
    _: AdminDep,
    name: NamePath,
    version: VersionPath,
    scenario: ScenarioField,
    registry: RegistryDep,
    engine: EngineDep,
) -> Response:
    try:
        body = model_routes.PromoteRequest(scenario=scenario)
        info = model_routes.promote(name, version, body, registry, engine)
    except ApiError as exc:
        return back("/dashboard/models", error=exc.message)
    except ValueError as exc:  # the scenario field's pattern
        return back("/dashboard/models", error=f"invalid scenario: {exc}")
    return back("/dashboard/models", flash=f"{info.champion} is now the {scenario} champion")


@router.post("/dashboard/scenarios/{scenario}/rollback")
def rollback(
    _: AdminDep, scenario: ScenarioPath, registry: RegistryDep, engine: EngineDep
) -> Response:
    try:
        info = model_routes.rollback(scenario, registry, engine)
    except ApiError as exc:
        return back("/dashboard/models", error=exc.message)
    return back("/dashboard/models", flash=f"{scenario} rolled back to {info.champion}")


# training ---------------------------------------------------------------------------------


@router.post("/dashboard/jobs")
def start_job(
    request: Request,
    _: AdminDep,
    models: Annotated[list[str] | None, Form(max_length=50)] = None,
    promote: Annotated[str, Form(max_length=16)] = "if_better",
) -> Response:
    runner = model_routes.get_runner(request)
    try:
        body = model_routes.TrainRequest.model_validate(
            {"models": models or None, "promote": promote}
        )
        job = model_routes.train(body, runner, Response())
    except ApiError as exc:
        return back("/dashboard/jobs", error=exc.message)
    except ValueError as exc:
        return back("/dashboard/jobs", error=f"invalid request: {exc}")
    return back("/dashboard/jobs", flash=f"training job {job.job_id} started")


# import -----------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def upload_name(filename: str | None) -> str:
    """A safe local file name keeping the upload's name and extension (the format)."""
    name = _UNSAFE.sub("_", Path(filename or "upload").name).strip("._") or "upload"
    return name[-100:]


@router.post("/dashboard/import", response_class=HTMLResponse)
def import_file(
    request: Request,
    _: AdminDep,
    store: StoreDep,
    engine: EngineDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Validate every row and import the file (nothing is written when a row is bad)."""
    name = upload_name(file.filename)
    problems: list[str] | None = None
    report, error, status = None, None, 200
    if Path(name).suffix.lower() not in EXTENSIONS:
        error, status = f"{name}: upload a .csv, .jsonl or .ndjson file", 422
    elif kind and kind not in KINDS:
        error, status = f"unknown kind {kind!r}", 422
    else:
        with tempfile.TemporaryDirectory(prefix="recserve-upload-") as folder:
            path = Path(folder) / name
            with path.open("wb") as out:
                while block := file.file.read(1 << 20):
                    out.write(block)
            try:
                report = import_source(
                    store, path, kind=kind or None, feedback_types=settings.feedback_types
                )
            except ImportValidationError as exc:
                error, problems, status = (
                    f"{exc.total:,} problem(s) found, nothing imported",
                    exc.problems,
                    422,
                )
            except ImportFailed as exc:
                error, status = str(exc), 422
    if report is not None:
        engine.catch_up_items()  # content champions place the new items at once
    return render(
        request, "import.html.j2", status_code=status, page="import", kinds=KINDS,
        counts=store.counts(), report=report, problems=problems, error=error, filename=name,
    )  # fmt: skip
