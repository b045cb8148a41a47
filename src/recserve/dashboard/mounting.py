"""Adding the dashboard to a FastAPI app: its routers, static files and login redirect."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from recserve.dashboard import actions, experiments, pages
from recserve.dashboard.auth import LoginRequired, keys_configured, login_redirect_path, safe_next
from recserve.dashboard.render import render

STATIC = Path(__file__).parent / "static"


async def _login_required(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(login_redirect_path(exc.next_path), status_code=303)


def _login_page(request: Request, next: str = "/") -> Response:
    if not keys_configured(request):
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html.j2", page="login", next=safe_next(next[:2000]), error=None)


def mount(app: FastAPI) -> None:
    """Add the dashboard's pages, actions, static files and login redirect to ``app``."""
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_api_route(
        "/dashboard/login", _login_page, methods=["GET"], include_in_schema=False,
        response_class=HTMLResponse,
    )  # fmt: skip
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.include_router(experiments.pages)
    app.include_router(experiments.actions)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
