"""The dashboard: server-rendered pages at ``/`` and ``/dashboard/...`` in the API process.

Jinja2 templates, one CSS file and a small script (``static/``), inline SVG charts; no
build step and no third-party script. ``mount(app)`` adds it to the FastAPI app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Add the dashboard to ``app`` (imported here: the pages import ``recserve.api``,
    whose app module imports this package)."""
    from recserve.dashboard.mounting import mount as mount_routes

    mount_routes(app)


__all__ = ["mount"]
