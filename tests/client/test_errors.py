"""The API's errors as the client's exceptions, against a live server with no data and no
models (so scenarios answer 503 and a training job fails), through both clients."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from recserve.client import (
    AsyncClient,
    Client,
    Conflict,
    Forbidden,
    JobFailed,
    JobTimeout,
    ModelNotReady,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RecserveError,
    RetryPolicy,
    ServerUnavailable,
    Unauthorized,
    ValidationFailed,
)
from tests.client import world
from tests.client.helpers import Blocking, Calls, client_factory, recserve_server
from tests.live import free_port

LIMITED_KEY = "limited-key-01"
LIMIT = 3  # requests per minute for LIMITED_KEY
MAX_BATCH = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = [
        *world.API_KEYS,
        {"key": LIMITED_KEY, "scopes": ["read"], "rate_limit_per_minute": LIMIT},
    ]
    with recserve_server(
        Path(tmp_path_factory.mktemp("client-errors")),
        RECSERVE_API_KEYS=json.dumps(keys),
        RECSERVE_MAX_BATCH_SIZE=str(MAX_BATCH),
    ) as base:
        yield base


@pytest.fixture(params=["sync", "async"])
def make(request: pytest.FixtureRequest, server: str) -> Iterator[Callable[..., Any]]:
    opened: list[Any] = []
    calls: dict[str, Calls] = {}
    yield client_factory(request.param, server, calls, opened)
    for client in opened:
        client.close()


def raised(error: type[RecserveError], call: Callable[[], Any]) -> RecserveError:
    """The exception ``call`` raised, checked to be ``error`` and to carry a request id."""
    with pytest.raises(error) as caught:
        call()
    assert caught.value.request_id, "every answer carries X-Request-ID"
    return caught.value


def test_unauthorized(make: Callable[..., Any]) -> None:
    wrong = raised(Unauthorized, lambda: make("not-a-valid-key").get_item("i1"))
    assert (wrong.status, wrong.code) == (401, "invalid_api_key")
    missing = raised(Unauthorized, lambda: make(None).list_items())
    assert missing.code == "missing_api_key" and "X-API-Key" in missing.message


def test_forbidden(make: Callable[..., Any]) -> None:
    reader, writer = make(world.READ_KEY), make(world.WRITE_KEY)
    denied = raised(Forbidden, lambda: reader.upsert_items([{"item_id": "i1"}]))
    assert (denied.status, denied.code) == (403, "insufficient_scope")
    assert "write" in denied.message
    assert "admin" in raised(Forbidden, lambda: writer.train()).message
    assert raised(Forbidden, lambda: writer.export_user("u1")).code == "insufficient_scope"


def test_not_found(make: Callable[..., Any]) -> None:
    api = make()
    assert raised(NotFound, lambda: api.get_item("missing")).code == "item_not_found"
    assert raised(NotFound, lambda: api.get_user("missing")).code == "user_not_found"
    assert raised(NotFound, lambda: api.get_job("missing")).code == "job_not_found"
    gone = raised(NotFound, lambda: api.get_model("ease", "v0099"))
    assert gone.code == "model_version_not_found" and gone.status == 404
    assert raised(NotFound, lambda: api.similar_items("missing")).code == "item_not_found"


def test_validation_failed(make: Callable[..., Any]) -> None:
    api = make()
    bad_type = raised(
        ValidationFailed,
        lambda: api.add_feedback([{"user_id": "u1", "item_id": "i1", "type": "teleport"}]),
    )
    assert (bad_type.status, bad_type.code) == (422, "unknown_feedback_type")
    assert bad_type.details and bad_type.details[0]["loc"] == ["body", 0, "type"]
    empty_id = raised(ValidationFailed, lambda: api.upsert_items([{"item_id": ""}]))
    assert empty_id.code == "validation_error" and empty_id.details
    assert raised(ValidationFailed, lambda: api.recommend("u1", n=0)).code == "validation_error"
    pin = raised(ValidationFailed, lambda: api.recommend("u1", pins={"i1": 0}))
    assert (pin.status, pin.code) == (422, "invalid_pin")
    bad_filter = raised(ValidationFailed, lambda: api.popular(filter="price <"))
    assert (bad_filter.status, bad_filter.code) == (400, "invalid_filter")
    cursor = raised(ValidationFailed, lambda: api.list_items(cursor="garbage"))
    assert (cursor.status, cursor.code) == (400, "invalid_cursor")
    rows = [{"user_id": "u1", "item_id": f"i{k}", "type": "like"} for k in range(MAX_BATCH + 1)]
    too_many = raised(PayloadTooLarge, lambda: api.add_feedback(rows))
    assert (too_many.status, too_many.code) == (413, "batch_too_large")


def test_conflict(make: Callable[..., Any]) -> None:
    refused = raised(Conflict, lambda: make().rollback("recommended"))
    assert (refused.status, refused.code) == (409, "no_previous_champion")


def test_model_not_ready(make: Callable[..., Any]) -> None:
    api = make()
    not_ready = raised(ModelNotReady, lambda: api.recommend("u1"))
    assert isinstance(not_ready, ServerUnavailable)
    assert (not_ready.status, not_ready.code, not_ready.retry_after) == (
        503,
        "model_not_ready",
        30.0,
    )
    # A retry policy does not wait longer than its max_wait: the error comes at once.
    patient = make(retries=RetryPolicy(retries=3, max_wait=1.0))
    started = time.monotonic()
    raised(ModelNotReady, lambda: patient.popular())
    assert time.monotonic() - started < 5
    unready = raised(ServerUnavailable, lambda: make(None).ready())
    assert unready.code == "not_ready" and not isinstance(unready, ModelNotReady)


def test_rate_limited(make: Callable[..., Any]) -> None:
    limited = make(LIMITED_KEY)
    with pytest.raises(RateLimited) as caught:  # the limit is shared by both runs of the test
        for _ in range(LIMIT + 1):
            limited.list_items()
    error = caught.value
    assert (error.status, error.code) == (429, "rate_limited")
    assert error.retry_after is not None and 0 < error.retry_after <= 60


def test_job_conflict_timeout_and_failure(server: str) -> None:
    """One job for both clients: on an empty store it fails."""
    opened: list[Any] = []
    sync, aio = (client_factory(kind, server, {}, opened)() for kind in ("sync", "async"))
    try:
        job = sync.train()
        for api in (sync, aio):
            busy = raised(Conflict, partial(api.train, models=["popular"]))
            assert busy.code == "job_already_running"
            assert busy.details == [{"job_id": job.job_id}]
        with pytest.raises(JobTimeout) as slow:
            aio.wait_for_job(job.job_id, timeout=0)
        assert slow.value.job.job_id == job.job_id and slow.value.job.status != "failed"
        for api in (sync, aio):
            with pytest.raises(JobFailed) as failed:
                api.wait_for_job(job.job_id, timeout=120, poll_interval=0.2)
            assert failed.value.job.status == "failed" and failed.value.job.error
    finally:
        for client in opened:
            client.close()


class Counting(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.method)
        return super().handle_request(request)


class AsyncCounting(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.method)
        return await super().handle_async_request(request)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_retries_on_connection_failures(kind: str) -> None:
    """Nothing listens on the port: reads are tried 1 + retries times, writes once."""
    base = f"http://127.0.0.1:{free_port()}"
    policy = RetryPolicy(retries=2, backoff=0.01)
    transport: Any
    if kind == "sync":
        transport = Counting()
        api: Any = Client(base, retries=policy, transport=transport)
    else:
        transport = AsyncCounting()
        api = Blocking(AsyncClient(base, retries=policy, transport=transport))
    try:
        with pytest.raises(httpx.ConnectError):
            api.get_item("i1")
        assert transport.sent == ["GET"] * 3
        with pytest.raises(httpx.ConnectError):
            api.upsert_items([{"item_id": "i1"}])
        assert transport.sent == ["GET"] * 3 + ["POST"]
    finally:
        api.close()
