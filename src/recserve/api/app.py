"""The FastAPI application: ``create_app(settings)`` builds it; its lifespan owns the store,
the registry, the serving engine and the thread that picks up newly promoted champions."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

import recserve
from recserve.api.deps import authorize, key_table
from recserve.api.errors import ERROR_RESPONSES, install_error_handlers
from recserve.api.middleware import BodyGuardMiddleware, RequestIdMiddleware
from recserve.api.routes import feedback, health, items, recommendations, relations, users
from recserve.config import Settings
from recserve.registry import ModelRegistry
from recserve.serving import ServingEngine
from recserve.store import Store

log = logging.getLogger("recserve.api")


class ChampionPoller:
    """A daemon thread calling ``engine.refresh()`` every ``interval`` seconds."""

    def __init__(self, engine: ServingEngine, interval: float):
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="recserve-champion-poller", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.engine.refresh()
            except Exception:  # keep polling: the current champions keep serving
                log.exception("refreshing champions failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if not settings.api_keys:
        log.warning("no API keys configured: the service is open to anyone who can reach it")
    store = Store.open(settings.resolved_database_url)
    registry = ModelRegistry(settings.models_dir)
    engine = ServingEngine(store, registry, settings.feedback_types)
    try:
        engine.refresh()
    except Exception:
        log.exception("loading champions failed; serving starts without models")
    app.state.store, app.state.registry, app.state.engine = store, registry, engine
    poller = None
    if settings.model_poll_seconds > 0:
        poller = ChampionPoller(engine, settings.model_poll_seconds)
        poller.start()
    try:
        yield
    finally:
        if poller is not None:
            poller.stop()
        store.close()


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="recserve",
        version=recserve.__version__,
        description="Recommendation models as a service: store, train, evaluate, serve.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.api_keys = key_table(settings.api_keys)
    install_error_handlers(app)
    # The last added is the outermost: request ids are set before the body is checked.
    app.add_middleware(BodyGuardMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestIdMiddleware)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorize)], responses=ERROR_RESPONSES)
    for module in (items, users, feedback, relations, recommendations):
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(health.router)
    return app
