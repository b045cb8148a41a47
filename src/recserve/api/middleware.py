"""Pure ASGI middleware (no ``BaseHTTPMiddleware``: it costs a task and a copy per request)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
import weakref
from types import SimpleNamespace
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recserve.api.deps import AUTHENTICATED, KeyTable, check_scope, identify, method_scope
from recserve.api.errors import ApiError, PayloadTooLarge, error_response
from recserve.config import ApiKey
from recserve.observability import REQUEST_ID, HttpMetrics
from recserve.replication import RateLimiter
from recserve.schemas import ErrorBody

_BODY_METHODS = {"POST", "PUT", "PATCH"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_FORM_PATHS = "/dashboard/"  # the dashboard posts HTML forms (urlencoded, multipart)


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class BodyGuardMiddleware:
    """Refuses request bodies over ``max_bytes`` and bodies that are not declared JSON.

    ``Content-Length`` is checked before anything is read; a chunked body is counted as it
    streams and reading stops with ``PayloadTooLarge`` (413) as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length_header = headers.get("content-length")
        if length_header is not None:
            try:
                length = int(length_header)
            except ValueError:
                length = -1
            if length < 0:
                response = error_response(
                    400, "invalid_content_length", "Content-Length must be a non-negative integer"
                )
                await response(scope, receive, send)
                return
            if length > self.max_bytes:
                response = error_response(
                    413,
                    "payload_too_large",
                    f"the request body is larger than {self.max_bytes} bytes",
                )
                await response(scope, receive, send)
                return
        has_body = (length_header not in (None, "0")) or "transfer-encoding" in headers
        if (
            has_body
            and scope["method"] in _BODY_METHODS
            and not _is_json(headers.get("content-type", ""))
            and not scope["path"].startswith(_FORM_PATHS)
        ):
            response = error_response(
                415,
                "unsupported_media_type",
                "send the request body as Content-Type: application/json",
            )
            await response(scope, receive, send)
            return

        received = 0
        limit = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


class RequestIdMiddleware:
    """Echoes a well-formed incoming ``X-Request-ID`` or makes one; kept in ``scope['state']``."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        token = REQUEST_ID.set(request_id)  # log lines of this request carry its id
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


access_log = logging.getLogger("recserve.access")
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNMATCHED = "<unmatched>"
_INGEST_ROUTE = ("POST", "/v1/feedback")  # its answer counts stored and duplicate events


_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


RouteTable = list[tuple[re.Pattern[str], str, frozenset[str]]]
_ROUTE_TABLES: weakref.WeakKeyDictionary[Any, RouteTable] = weakref.WeakKeyDictionary()


def _route_table(app: Any) -> RouteTable:
    """(path regex, full path template, methods) of every route of ``app``, built once per
    app. FastAPI >= 0.16x keeps included routers lazily: ``iter_route_contexts`` flattens
    them."""
    cached = _ROUTE_TABLES.get(app)
    if cached is not None:
        return cached
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # earlier versions: app.routes is already flat

        def iter_route_contexts(routes: Any) -> Any:  # type: ignore[misc]
            return iter(routes)

    table: RouteTable = []
    for route in iter_route_contexts(getattr(app, "routes", ())):
        path = getattr(route, "path", None)
        if isinstance(path, str) and path:
            regex, _, _ = compile_path(path)
            table.append((regex, path, frozenset(getattr(route, "methods", None) or ())))
    _ROUTE_TABLES[app] = table
    return table


def _match_route(scope: Scope) -> tuple[Any, dict[str, Any]]:
    """The route the app would have chosen for a request answered before routing (its
    template, as a ``path`` attribute, and its parameters)."""
    app = scope.get("app")
    if app is None:
        return None, {}
    path, method = scope.get("path", ""), scope.get("method", "")
    for regex, template, methods in _route_table(app):
        found = regex.match(path)
        if found and (not methods or method in methods):
            return SimpleNamespace(path=template), found.groupdict()
    return None, {}


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/users/{user_id}``), never the raw path, so
    metric labels stay few; requests that matched no route share one label.

    An included router's route knows only its own part (``/users/{user_id}``); the router
    prefix (``/v1``) is what precedes that part, filled in, at the end of the request path.
    """
    route = scope.get("route")
    params = scope.get("path_params") or {}
    if route is None:  # answered before routing (401, 403, 429 from AccessMiddleware)
        route, params = _match_route(scope)
    template = getattr(route, "path", None)
    if not isinstance(template, str) or not template:
        return UNMATCHED
    try:
        filled = _PARAM.sub(lambda m: str(params[m.group(1)]), template)
    except KeyError:
        return template
    path: str = scope.get("path", "")
    if filled and path.endswith(filled):
        return path[: len(path) - len(filled)] + template
    return template


class MetricsMiddleware:
    """Records each request's latency by method, route template and status, the requests in
    flight and the events ingested, and writes one access log line per request (no query
    string, headers or body: API keys and payloads never reach the logs).

    Placed inside ``RequestIdMiddleware`` so the access line carries the request id.
    """

    def __init__(self, app: ASGIApp, metrics: HttpMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        status = 500  # what the client gets if the app raises before answering
        ingest_body: list[bytes] | None = None

        async def send_observed(message: Message) -> None:
            nonlocal status, ingest_body
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 200 and (method, route_template(scope)) == _INGEST_ROUTE:
                    ingest_body = []
            elif message["type"] == "http.response.body" and ingest_body is not None:
                ingest_body.append(message.get("body", b""))
            await send(message)

        start = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_observed)
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.in_flight.dec()
            route = route_template(scope)
            self.metrics.requests.labels(method, route, str(status)).observe(elapsed)
            if ingest_body is not None:
                self._count_ingested(b"".join(ingest_body))
            access_log.info(
                "%s %s %d %.1fms",
                method,
                route,
                status,
                elapsed * 1000,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )

    def _count_ingested(self, body: bytes) -> None:
        """Counts from the feedback answer (``{"accepted": n, "duplicates": m}``)."""
        try:
            answer = json.loads(body)
            self.metrics.count_events(int(answer["accepted"]), int(answer["duplicates"]))
        except (ValueError, KeyError, TypeError):
            access_log.warning("could not read the event counts of a feedback answer")


class AccessMiddleware:
    """API-key check and per-caller rate limit for /v1, before any body is read.

    With keys configured, a /v1 request without a valid ``X-API-Key`` gets 401, and one
    whose key lacks the method's scope (reads ``read``, the rest ``write``) gets 403; the
    key found is left in ``scope['state']`` for the route dependencies (``admin`` routes
    check it there). Then, with a limit (the key's ``rate_limit_per_minute``, else the
    setting), the caller (the key, or the client address when the service runs open) is
    counted: over the limit the answer is 429 ``rate_limited`` with ``Retry-After``.
    Limited answers carry ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining``.
    """

    def __init__(
        self,
        app: ASGIApp,
        keys: KeyTable,
        limiter: RateLimiter,
        default_limit: int | None,
        prefix: str = "/v1",
    ):
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.default_limit = default_limit
        self.prefix = prefix

    def _guarded(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guarded(scope["path"]):
            await self.app(scope, receive, send)
            return
        key = None
        if self.keys:
            try:
                key = identify(self.keys, Headers(scope=scope).get("x-api-key"))
                check_scope(key, method_scope(scope["method"], scope["path"]))
            except ApiError as exc:
                await error_response(exc.status, exc.code, exc.message)(scope, receive, send)
                return
        scope.setdefault("state", {})[AUTHENTICATED] = key
        limit = (key.rate_limit_per_minute if key else None) or self.default_limit
        if limit is None:
            await self.app(scope, receive, send)
            return
        decision = await self.limiter.hit(self._caller(scope, key), limit)
        counters = {
            "X-RateLimit-Limit": str(decision.limit),
            "X-RateLimit-Remaining": str(decision.remaining),
        }
        if not decision.allowed:
            response = error_response(
                429,
                "rate_limited",
                f"more than {limit} requests in a minute; retry in {decision.retry_after} s",
                headers={"Retry-After": str(decision.retry_after), **counters},
            )
            await response(scope, receive, send)
            return

        async def send_counters(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in counters.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_counters)

    @staticmethod
    def _caller(scope: Scope, key: ApiKey | None) -> str:
        """Who is counted: the key's digest (never the key), else the client address."""
        if key is not None:
            return "key:" + key.digest[:32]
        client = scope.get("client")
        return "ip:" + (str(client[0]) if client else "unknown")


RATE_LIMITED_RESPONSE: dict[int | str, dict[str, object]] = {
    429: {
        "model": ErrorBody,
        "description": "Over the API key's rate limit (code rate_limited); see Retry-After",
    }
}
