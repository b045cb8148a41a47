"""A pure-ASGI lane for the hottest reads: plain ``GET /v1/users/{id}/recommendations`` and
``GET /v1/popular`` answered straight from the engine.

Why: answering a cached user takes the engine 0.2-0.3 ms, and FastAPI's per-request
machinery (route matching over every route, resolving a dozen declared query parameters one
by one) added about 0.4 ms on this route (in-process, 1582 -> 1202 us per request through
the ASGI app when the lane was added; docs/benchmarks.md, Serving).
No library trims that without giving up FastAPI's validation and OpenAPI document, so the
lane is written by hand and deliberately small:

* it sits inside every middleware (request id, metrics, API keys and rate limits, body
  guard), so those apply unchanged;
* it takes a request only when everything about it is simple: a well-formed id, the
  parameters ``n``, ``offset``, ``exclude_seen``, ``explain``, ``include``, ``exclude`` (and
  ``user_id`` on /v1/popular) with plain values. What can be answered from memory
  (``in_memory``: the user's history cached, ...) or with only the user's history read from
  an embedded SQLite file is answered on the event loop; what needs other I/O (a history
  from PostgreSQL, deletion marks to re-read, Redis counters) is answered in the thread
  pool, as the route does, but without FastAPI's routing and parameter resolution, the
  larger part of a first request's cost (docs/benchmarks.md, Serving); should an answer
  that read the store raise, FastAPI's route answers instead, with its error mapping.
  Anything else, including every malformed
  request, goes on to the FastAPI route, which stays the reference: it documents the
  parameters, gives the validation errors, and answers the rest;
* both paths call the same ``answer`` functions (``recserve.api.routes.recommendations``),
  so an accepted request gets the same body either way (tests/api/test_fast_lane.py
  compares them).

The ``fast_lane`` setting turns it off (every request through FastAPI); a list the LLM stage
re-ranks by default (``llm_rerank_scenarios``) always goes through FastAPI.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from types import SimpleNamespace
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from recserve.api.routes.list_params import MAX_IDS, MAX_OFFSET
from recserve.api.routes.recommendations import (
    in_memory,
    popular_body,
    recommendations_body,
)
from recserve.schemas import CONTROL_CHARACTERS, ID_MAX
from recserve.serving import ListOptions, ModelNotReady, ServingEngine

_USER_LIST = re.compile(r"/v1/users/([^/]+)/recommendations")
_DIGITS = re.compile(r"[0-9]{1,6}")
_BOOLS = {"true": True, "false": False, "1": True, "0": False}
_RECOMMENDATIONS = SimpleNamespace(path="/v1/users/{user_id}/recommendations")
_POPULAR = SimpleNamespace(path="/v1/popular")
_JSON = (b"content-type", b"application/json")
log = logging.getLogger(__name__)


def _plain_id(value: str) -> bool:
    """An id FastAPI's ``ExternalId`` accepts as it is: 1 to ID_MAX characters, no control
    characters."""
    return 0 < len(value) <= ID_MAX and CONTROL_CHARACTERS.search(value) is None


def simple_options(
    query: str, max_n: int, user_param: bool
) -> tuple[ListOptions, str | None] | None:
    """The request's ``ListOptions`` (and ``user_id`` query parameter when ``user_param``) when
    every parameter is one the lane takes, with a value it reads exactly as FastAPI would;
    None otherwise (FastAPI then decides, errors included)."""
    n, offset, exclude_seen, explain = 10, 0, True, False
    include: list[str] = []
    exclude: list[str] = []
    user_id: str | None = None
    seen: set[str] = set()
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in ("include", "exclude"):
            if not 0 < len(value) <= ID_MAX:
                return None
            (include if name == "include" else exclude).append(value)
            continue
        if name in seen:  # FastAPI takes the last of repeated scalars: leave that to it
            return None
        seen.add(name)
        if name in ("n", "offset"):
            if not _DIGITS.fullmatch(value):
                return None
            number = int(value)
            if name == "n":
                if not 1 <= number <= max_n:
                    return None
                n = number
            elif number > MAX_OFFSET:
                return None
            else:
                offset = number
        elif name in ("exclude_seen", "explain"):
            flag = _BOOLS.get(value)
            if flag is None:
                return None
            if name == "explain":
                explain = flag
            else:
                exclude_seen = flag
        elif name == "user_id" and user_param:
            if not _plain_id(value):
                return None
            user_id = value
        else:
            return None
    if len(include) > MAX_IDS or len(exclude) > MAX_IDS:
        return None
    options = ListOptions(
        n=n,
        offset=offset,
        exclude_seen=exclude_seen,
        include=tuple(include),
        exclude=tuple(exclude),
        explain=explain,
    )
    return options, user_id


class FastLaneMiddleware:
    """Answers the simple hot reads itself; passes everything else on (see the module)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path == "/v1/popular" or (path.startswith("/v1/users/") and path.endswith("s")):
                body = self._answer(scope, path)
                if callable(body):  # a history to read from the store: off the event loop
                    body = await run_in_threadpool(body)
                if body is not None:
                    headers = [(b"content-length", str(len(body)).encode()), _JSON]
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    @staticmethod
    def _answer(scope: Scope, path: str) -> bytes | Callable[[], bytes | None] | None:
        """The response body; or a function giving it, to run in the thread pool (a history
        read); or None to pass the request on."""
        state = scope["app"].state
        engine: ServingEngine | None = getattr(state, "engine", None)
        if engine is None:  # the lifespan has not run (or failed): FastAPI answers
            return None
        max_n: int = state.settings.max_n
        query = scope["query_string"].decode("latin-1")
        llm = getattr(state, "llm", None)  # lists the LLM re-ranks go through the route
        reranked = llm.rerank_scenarios if llm is not None else frozenset()
        if path == "/v1/popular":
            if "popular" in reranked:
                return None
            parsed = simple_options(query, max_n, user_param=True)
            if parsed is None:
                return None
            options, user_id = parsed
            answer = _inline_or_read(
                _where(engine, user_id, options, "popular"),
                lambda: popular_body(engine, options, user_id),
            )
            scope["route"], scope["path_params"] = _POPULAR, {}
            return answer
        found = _USER_LIST.fullmatch(path)
        if found is None or not _plain_id(found.group(1)) or "recommended" in reranked:
            return None
        listed_user: str = found.group(1)
        parsed = simple_options(query, max_n, user_param=False)
        if parsed is None:
            return None
        options = parsed[0]
        answer = _inline_or_read(
            _where(engine, listed_user, options, "recommended"),
            lambda: recommendations_body(engine, listed_user, options),
        )
        scope["route"], scope["path_params"] = _RECOMMENDATIONS, {"user_id": listed_user}
        return answer


MEMORY, LOCAL_READ, THREAD = "memory", "local_read", "thread"


def _where(engine: ServingEngine, user_id: str | None, options: ListOptions, scenario: str) -> str:
    """Where to answer: on the event loop when nothing is read (``in_memory``) or only the
    user's history, from an embedded SQLite file (``LOCAL_READ``): one indexed query on a
    local file (~0.2 ms), which cost less than handing it to the thread pool (popular at 100k
    items, 8 connections, a loaded machine: server CPU per first request 1.05 against
    1.38 ms, first-request p99 16 against 38 ms; docs/benchmarks.md, Serving, session 7).
    Any other I/O (PostgreSQL over the network, deletion marks to re-read, Redis counters)
    goes to the thread pool, where a wait does not block the loop."""
    if not in_memory(engine, None, options, scenario):  # all but the user's history
        return THREAD
    if user_id is None or engine.history_cached(user_id, scenario):
        return MEMORY
    return LOCAL_READ if engine.store.dialect == "sqlite" else THREAD


def _inline_or_read(
    where: str, answer: Callable[[], bytes]
) -> bytes | Callable[[], bytes | None] | None:
    """``answer()`` now on the loop (``MEMORY``, ``LOCAL_READ``), else ``answer`` to run in
    the thread pool. None (FastAPI answers) where it raises: ``ModelNotReady`` gets the
    route's documented 503; an answer that read the store passes any error on to the
    route's own mapping (e.g. 503 when the store is down)."""
    if where == MEMORY:
        try:
            return answer()
        except ModelNotReady:
            return None

    def read_and_answer() -> bytes | None:
        try:
            return answer()
        except Exception:  # the route answers again, with its error mapping (e.g. 503)
            log.debug("fast lane: an answer that needed I/O passed on to the route")
            return None

    return read_and_answer() if where == LOCAL_READ else read_and_answer
