"""Templates: one Jinja2 environment over the package's ``templates`` folder, and
``render`` that adds what every page needs (navigation, CSRF token, flash message)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

import recserve
from recserve.dashboard.auth import (
    NONCE_COOKIE,
    csrf_token,
    ensure_nonce,
    keys_configured,
    set_cookie,
)

NAV = [
    ("overview", "/", "Overview"),
    ("items", "/dashboard/items", "Items"),
    ("users", "/dashboard/users", "Users"),
    ("models", "/dashboard/models", "Models"),
    ("jobs", "/dashboard/jobs", "Training"),
    ("experiments", "/dashboard/experiments", "Experiments"),
    ("import", "/dashboard/import", "Import"),
]


def _when(value: float | None) -> str:
    if value is None:
        return "-"
    return dt.datetime.fromtimestamp(float(value), dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(value: float | None) -> str:
    if value is None:
        return "-"
    return dt.datetime.fromtimestamp(float(value), dt.UTC).strftime("%Y-%m-%d %H:%M")


def _number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("recserve.dashboard", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["number"] = _number
    env.filters["short"] = _short
    env.globals["zip"] = zip
    env.filters["segment"] = lambda value: quote(str(value), safe="")  # one URL path segment
    return env


ENV = _environment()


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    nonce, new = ensure_nonce(request)
    page = ENV.get_template(template).render(
        request=request,
        nav=NAV,
        csrf_token=csrf_token(request, nonce),
        logged_in=keys_configured(request),
        flash=request.query_params.get("flash", "")[:300],
        flash_error=request.query_params.get("error", "")[:500],
        version=recserve.__version__,
        **context,
    )
    response = HTMLResponse(page, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    if new:
        set_cookie(request, response, NONCE_COOKIE, nonce)
    return response
