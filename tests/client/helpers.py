"""Shared pieces of the client tests: a live server, both clients behind one blocking face
(so every test body runs through ``Client`` and ``AsyncClient``), and transports that
record which endpoints were really called."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from recserve.client import AsyncClient, Client
from tests.client import world
from tests.live import live_server

Calls = set[tuple[str, str]]  # (method, path) sent


@contextmanager
def recserve_server(data_dir: Path, **env: str) -> Iterator[str]:
    """A ``recserve serve`` process with the test API keys; yields its base URL."""
    settings: dict[str, Any] = {
        "RECSERVE_API_KEYS": json.dumps(world.API_KEYS),
        "RECSERVE_MODEL_POLL_SECONDS": "0.2",
        **env,
    }
    with live_server("serve", data_dir=data_dir, **settings) as (base, _process):
        yield base


class RecordingTransport(httpx.HTTPTransport):
    """The real HTTP transport, noting each request's method and path."""

    def __init__(self, calls: Calls):
        super().__init__()
        self.calls = calls

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.add((request.method, request.url.raw_path.decode().split("?")[0]))
        return super().handle_request(request)


class AsyncRecordingTransport(httpx.AsyncHTTPTransport):
    def __init__(self, calls: Calls):
        super().__init__()
        self.calls = calls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.add((request.method, request.url.raw_path.decode().split("?")[0]))
        return await super().handle_async_request(request)


class Blocking:
    """An ``AsyncClient`` whose coroutine methods run to completion on a private event loop
    and whose async iterators come back as iterators: the same test body drives it and a
    ``Client``."""

    kind = "async"

    def __init__(self, client: AsyncClient):
        self.client = client
        self.loop = asyncio.new_event_loop()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if inspect.isawaitable(result):
                return self.loop.run_until_complete(result)
            if hasattr(result, "__aiter__"):
                return iter(self.loop.run_until_complete(_collect(result)))
            return result

        return call

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


async def _collect(rows: Any) -> list[Any]:
    return [row async for row in rows]


class SyncFace:
    """A ``Client`` with the same ``kind``/``close`` surface as ``Blocking``."""

    kind = "sync"

    def __init__(self, client: Client):
        self.client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def close(self) -> None:
        self.client.close()


def client_factory(
    kind: str, base_url: str, calls: dict[str, Calls], opened: list[Any]
) -> Callable[..., Any]:
    """``make(api_key=..., **options)``: a client of ``kind`` that records into ``calls``."""

    def make(api_key: str | None = world.ADMIN_KEY, **options: Any) -> Any:
        seen = calls.setdefault(kind, set())
        face: Any
        if kind == "sync":
            face = SyncFace(
                Client(base_url, api_key, transport=RecordingTransport(seen), **options)
            )
        else:
            face = Blocking(
                AsyncClient(base_url, api_key, transport=AsyncRecordingTransport(seen), **options)
            )
        opened.append(face)
        return face

    return make


def operations(openapi: dict[str, Any]) -> dict[tuple[str, str], re.Pattern[str]]:
    """Every (method, path template) of an OpenAPI document with a regex for real paths."""
    found = {}
    for template, methods in openapi["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        for method in methods:
            found[(method.upper(), template)] = pattern
    return found


def uncovered(openapi: dict[str, Any], calls: Calls) -> list[tuple[str, str]]:
    """The operations of ``openapi`` that no recorded call matched."""
    return sorted(
        op
        for op, pattern in operations(openapi).items()
        if not any(m == op[0] and pattern.match(p) for m, p in calls)
    )
