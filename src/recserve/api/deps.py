"""``Annotated`` dependency aliases shared by the routers; tests may swap them with
``app.dependency_overrides``."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import APIKeyHeader

from recserve.api.errors import ApiError
from recserve.config import ApiKey, Scope, Settings
from recserve.registry import ModelRegistry
from recserve.schemas import CONTROL_CHARACTERS, ID_MAX, ExternalId
from recserve.serving import ServingEngine
from recserve.store import InvalidCursor, Store
from recserve.store.paging import decode_cursor, decode_event_cursor

# state ----------------------------------------------------------------------------------


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_registry(request: Request) -> ModelRegistry:
    return request.app.state.registry


async def get_engine(request: Request) -> ServingEngine:
    return request.app.state.engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
EngineDep = Annotated[ServingEngine, Depends(get_engine)]

# API keys -------------------------------------------------------------------------------

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Needed on every /v1 route when the service has API keys configured.",
)


KeyTable = list[tuple[bytes, ApiKey]]
AUTHENTICATED = "api_key"  # scope["state"] entry set by AccessMiddleware: the caller's key


def key_table(keys: list[ApiKey]) -> KeyTable:
    """(SHA-256 digest, key) pairs, computed once at start-up. Settings hold only digests:
    ``ApiKey`` hashes a plain key when the settings are validated."""
    return [(key.digest.encode(), key) for key in keys]


def identify(table: KeyTable, presented: str | None) -> ApiKey:
    """The configured key whose digest matches ``presented``; 401 ``ApiError`` otherwise."""
    if not presented:
        raise ApiError(401, "missing_api_key", "send an API key in the X-API-Key header")
    digest = hashlib.sha256(presented.encode("utf-8", errors="replace")).hexdigest().encode()
    found = None
    for expected, key in table:  # compare with every key, in constant time each
        if hmac.compare_digest(expected, digest):
            found = key
    if found is None:
        raise ApiError(401, "invalid_api_key", "the API key in X-API-Key is not valid")
    return found


# POST routes that only compute an answer from the body and store nothing: a ``read`` key
# may call them (the body carries a list of ids too long for a query string)
READ_ONLY_POSTS = re.compile(r"/v1/(users/[^/]+/rank|sessions/recommendations)")


def method_scope(method: str, path: str = "") -> Scope:
    """The scope a /v1 request needs: reads (and the read-only POSTs) ``read``, the rest
    ``write``."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return Scope.READ
    if method == "POST" and READ_ONLY_POSTS.fullmatch(path):
        return Scope.READ
    return Scope.WRITE


def caller_key(request: Request, presented: str | None) -> ApiKey | None:
    """The caller's key; None when the service runs open (no keys configured).

    On /v1 routes ``AccessMiddleware`` has already checked the key before the body was
    read; its answer is reused here. Other routes (``/metrics``) check it now.
    """
    state = request.scope.get("state") or {}
    if AUTHENTICATED in state:
        return state[AUTHENTICATED]
    table: KeyTable = request.app.state.api_keys
    if not table:
        return None
    return identify(table, presented)


# The dependencies below are ``async`` although they never await: FastAPI runs a sync
# dependency in the thread pool, a hop that cost more than the work on every request.


async def authenticate(
    request: Request, presented: Annotated[str | None, Security(api_key_header)]
) -> ApiKey | None:
    """The caller's key (see ``caller_key``) as a dependency."""
    return caller_key(request, presented)


CallerDep = Annotated[ApiKey | None, Depends(authenticate)]


def check_scope(key: ApiKey | None, scope: Scope) -> None:
    """403 ``insufficient_scope`` unless ``key`` (None: open mode) allows ``scope``."""
    if key is not None and not key.allows(scope):
        raise ApiError(
            403, "insufficient_scope", f"this API key does not have the {scope.value!r} scope"
        )


def require(scope: Scope) -> Callable[[ApiKey | None], Awaitable[ApiKey | None]]:
    """A dependency that needs ``scope``: ``dependencies=[Depends(require(Scope.ADMIN))]``."""

    async def check(key: CallerDep) -> ApiKey | None:
        check_scope(key, scope)
        return key

    return check


async def authorize(request: Request, key: CallerDep) -> ApiKey | None:
    """The default for /v1: reads need ``read``, every other method needs ``write``.

    ``AccessMiddleware`` applies the same rule before the body is read; this dependency
    keeps it on every /v1 route even if the middleware is not installed."""
    check_scope(key, method_scope(request.method, request.url.path))
    return key


# parameters -----------------------------------------------------------------------------

ItemIdPath = Annotated[ExternalId, Path(description="The client's item id (1-256 characters).")]
UserIdPath = Annotated[ExternalId, Path(description="The client's user id (1-256 characters).")]
CursorQuery = Annotated[
    str | None,
    Query(max_length=1024, description="next_cursor of the previous page; omit for the first."),
]


def entity_cursor(cursor: CursorQuery = None) -> str | None:
    """A cursor over items or users: it must decode to a plausible id (the store compares it)."""
    if cursor:
        key = decode_cursor(cursor)
        if not key or len(key) > ID_MAX or CONTROL_CHARACTERS.search(key):
            raise InvalidCursor("invalid cursor")
    return cursor


def event_cursor(cursor: CursorQuery = None) -> str | None:
    """A cursor over events: it must decode to an event's time and sequence number."""
    if cursor:
        decode_event_cursor(cursor)  # raises InvalidCursor
    return cursor


EntityCursor = Annotated[str | None, Depends(entity_cursor)]
EventCursor = Annotated[str | None, Depends(event_cursor)]
LimitQuery = Annotated[int, Query(ge=1, le=1000, description="Rows per page.")]
OptionalUserQuery = Annotated[
    ExternalId | None, Query(description="Leave out what this user has already seen.")
]


async def top_n(
    request: Request, n: Annotated[int, Query(description="How many items.")] = 10
) -> int:
    """``n`` checked against ``settings.max_n`` (a runtime setting, so not in the schema);
    the one check of ``n`` for every list endpoint (async: no thread hop)."""
    max_n: int = request.app.state.settings.max_n
    if not 1 <= n <= max_n:
        raise ApiError(
            422,
            "validation_error",
            f"query.n: must be between 1 and {max_n}",
            [{"type": "out_of_range", "loc": ["query", "n"], "msg": "out of range", "input": n}],
        )
    return n


TopN = Annotated[int, Depends(top_n)]
