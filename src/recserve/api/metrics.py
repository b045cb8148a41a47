"""``GET /metrics``: the Prometheus scrape endpoint, outside /v1.

Open by default (scrapers rarely hold a key); with ``metrics_public = false`` and API keys
configured it needs a key with the ``admin`` scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response, Security

from recserve.api.deps import api_key_header, caller_key
from recserve.api.errors import ERROR_RESPONSES, ApiError
from recserve.config import Scope, Settings
from recserve.observability import HttpMetrics
from recserve.observability.metrics import CONTENT_TYPE, CacheStats

router = APIRouter(tags=["observability"])


def app_metrics(app: FastAPI) -> HttpMetrics:
    """Create the app's metrics (kept in ``app.state.metrics``); the served models are read
    from the engine at scrape time, none before the lifespan has started it."""

    def served() -> Mapping[str, str]:
        engine = getattr(app.state, "engine", None)
        if engine is None:
            return {}
        return {scenario: model.ref for scenario, model in engine.served().items()}

    def caches() -> Mapping[str, CacheStats]:
        engine = getattr(app.state, "engine", None)
        if engine is None:
            return {}
        histories = engine.histories
        return {
            "history": CacheStats(
                histories.hits,
                histories.misses,
                len(histories),
                histories.max_users,
                histories.evictions,
            )
        }

    metrics = HttpMetrics(served, caches)
    app.state.metrics = metrics
    return metrics


def metrics_access(
    request: Request, presented: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Everyone when ``metrics_public``; otherwise as an admin route."""
    settings: Settings = request.app.state.settings
    if settings.metrics_public:
        return
    key = caller_key(request, presented)
    if key is not None and not key.allows(Scope.ADMIN):
        raise ApiError(403, "insufficient_scope", "this API key does not have the 'admin' scope")


@router.get(
    "/metrics",
    dependencies=[Depends(metrics_access)],
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **{code: ERROR_RESPONSES[code] for code in (401, 403) if code in ERROR_RESPONSES},
    },
    response_class=Response,
    summary="Prometheus metrics",
)
def metrics(request: Request) -> Response:
    """Request latency by route template, requests in flight, events ingested, the model
    version serving each scenario, training durations and process metrics."""
    body = request.app.state.metrics.render()
    return Response(body, media_type=CONTENT_TYPE)
