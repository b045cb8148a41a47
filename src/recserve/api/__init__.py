"""The REST API (FastAPI): ``create_app(settings)``."""

from recserve.api.app import create_app

__all__ = ["create_app"]
