"""The REST API (FastAPI): ``create_app(settings)``.

``create_app`` is imported on first use, so importing a light module of this package (the
response models the Python client shares, ``recserve.api.scenario_schemas``) does not
build the whole server stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recserve.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from recserve.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
