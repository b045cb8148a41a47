"""The REST API (FastAPI): ``create_app(settings)``.

``create_app`` is imported on first use, so importing one module of this package does not
build the whole server stack. The request and response models live in
``recserve.schemas``, which the Python client shares without importing this package.
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
