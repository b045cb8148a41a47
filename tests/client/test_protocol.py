"""The client's I/O-free core: the retry rule step by step, error mapping of answers the
test server never gives (429 from a proxy, an HTML 502), and query encoding. No network:
``exchange`` is driven by hand with the responses a server could send."""

from __future__ import annotations

import email.utils
from typing import Any

import httpx
import pytest

from recserve.client import (
    Call,
    RateLimited,
    RecserveError,
    RetryPolicy,
    ServerError,
    ServerUnavailable,
    ValidationFailed,
)
from recserve.client.endpoints import list_params, rows
from recserve.client.errors import error_from_response, parse_retry_after
from recserve.client.protocol import exchange

REQUEST = httpx.Request("GET", "http://recserve.test/v1/popular")


def answer(status: int, body: bytes = b"{}", **headers: str) -> httpx.Response:
    return httpx.Response(status, content=body, headers=headers, request=REQUEST)


def rate_limited(retry_after: str) -> httpx.Response:
    body = b'{"code": "rate_limited", "message": "slow down"}'
    return answer(429, body, **{"Retry-After": retry_after})


def text_call(idempotent: bool = True) -> Call[str]:
    return Call("GET", "/v1/popular", lambda r: r.text, idempotent=idempotent)


def test_a_retry_waits_what_retry_after_says_then_parses() -> None:
    steps = exchange(text_call(), RetryPolicy(retries=2))
    assert next(steps) is None  # send
    assert steps.send(rate_limited("2")) == 2.0  # sleep 2 s
    assert steps.send(None) is None  # send again
    with pytest.raises(StopIteration) as done:
        steps.send(answer(200, b"fine"))
    assert done.value.value == "fine"


def test_retries_stop_after_the_budget_and_raise_the_last_error() -> None:
    steps = exchange(text_call(), RetryPolicy(retries=1))
    next(steps)
    assert steps.send(rate_limited("1")) == 1.0
    steps.send(None)
    with pytest.raises(RateLimited) as caught:
        steps.send(rate_limited("1"))
    assert caught.value.retry_after == 1.0 and caught.value.code == "rate_limited"


def test_no_retry_for_writes_long_waits_or_client_errors() -> None:
    for call, policy, response in [
        (text_call(idempotent=False), RetryPolicy(retries=3), rate_limited("1")),
        (text_call(), RetryPolicy(retries=3, max_wait=5), rate_limited("30")),
        (text_call(), RetryPolicy(retries=3), answer(404, b'{"code": "x", "message": "m"}')),
        (text_call(), RetryPolicy(retries=0), rate_limited("1")),
    ]:
        steps = exchange(call, policy)
        next(steps)
        with pytest.raises(RecserveError):
            steps.send(response)


def test_backoff_without_retry_after_grows_and_is_capped() -> None:
    policy = RetryPolicy(retries=5, backoff=1.0, max_wait=3.0)
    error = error_from_response(answer(503, b'{"code": "database_unavailable", "message": ""}'))
    waits = [policy.delay(text_call(), attempt, error) or 0.0 for attempt in range(5)]
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0
    assert all(0 < w <= 3.0 for w in waits)


def test_transport_errors_are_retried_for_reads_only() -> None:
    steps = exchange(text_call(), RetryPolicy(retries=1, backoff=0.01))
    next(steps)
    wait = steps.throw(httpx.ConnectError("refused"))
    assert wait is not None and 0 < wait <= 0.01
    writes = exchange(text_call(idempotent=False), RetryPolicy(retries=1))
    next(writes)
    with pytest.raises(httpx.ConnectError):
        writes.throw(httpx.ConnectError("refused"))


def test_error_bodies_that_are_not_recserve_json() -> None:
    proxy = error_from_response(answer(502, b"<html>Bad Gateway</html>"))
    assert isinstance(proxy, ServerUnavailable)
    assert (proxy.code, proxy.message) == ("bad_gateway", "<html>Bad Gateway</html>")
    crash = error_from_response(answer(500, b""))
    assert isinstance(crash, ServerError) and crash.message == "HTTP 500"
    teapot = error_from_response(answer(418, b'{"code": "teapot", "message": "no"}'))
    assert type(teapot) is RecserveError and teapot.code == "teapot"
    unknown_json = error_from_response(answer(422, b'["not", "an", "error body"]'))
    assert isinstance(unknown_json, ValidationFailed)


def test_retry_after_as_an_http_date() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 12, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(12, abs=1)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_list_parameters_encoding() -> None:
    params = list_params(
        {
            "n": 5,
            "explain": True,
            "exclude_seen": False,
            "include": ["a", "b"],
            "pins": {"p": 2},
            "diversity": 0.5,
            "category": None,
        }
    )
    assert params == [
        ("n", "5"),
        ("explain", "true"),
        ("exclude_seen", "false"),
        ("include", "a"),
        ("include", "b"),
        ("pin", "p:2"),
        ("diversity", "0.5"),
    ]
    with pytest.raises(TypeError, match="unknown list option"):
        list_params({"pin": "p:2"})
    with pytest.raises(TypeError, match="list of item ids"):
        list_params({"exclude": "abc"})
    single: Any = {"item_id": "i1"}
    with pytest.raises(TypeError, match="not a single row"):
        rows(single)
