"""The I/O-free core both clients drive: a ``Call`` says what to send and how to read the
answer, and ``exchange`` decides, attempt by attempt, whether to parse, raise or wait and
retry. The sync and async clients only perform the sends and sleeps it asks for, so
request building, error mapping and the retry rule exist once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from recserve.client.errors import JobFailed, JobTimeout, RecserveError, error_from_response
from recserve.client.models import JobStatus

T = TypeVar("T")

NO_BODY: Any = object()  # a call without a request body (``json=None`` would send "null")


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: method, path under the base URL, query, JSON body, and the parser of a
    successful response. ``idempotent`` calls may be retried (GETs and read-only POSTs)."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Sequence[tuple[str, str]] = ()
    json: Any = NO_BODY
    idempotent: bool = False

    def request_args(self) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client.request`` / ``httpx.AsyncClient.request``."""
        args: dict[str, Any] = {"method": self.method, "url": self.path}
        if self.params:
            args["params"] = list(self.params)
        if self.json is not NO_BODY:
            args["json"] = self.json
        return args


@dataclass(frozen=True)
class RetryPolicy:
    """When to try an idempotent call again: on a connection failure, or on a 429/502/503/504
    answer, up to ``retries`` more times. The wait is the answer's ``Retry-After`` when it
    gives one (a longer one than ``max_wait`` is not waited for: the error is raised), else
    an exponential backoff from ``backoff`` seconds with jitter. Off by default."""

    retries: int = 0
    backoff: float = 0.5
    max_wait: float = 10.0
    statuses: frozenset[int] = field(default=frozenset({429, 502, 503, 504}))

    def delay(self, call: Call[Any], attempt: int, error: Exception) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``; None: give up and raise ``error``."""
        if attempt >= self.retries or not call.idempotent:
            return None
        if isinstance(error, RecserveError):
            if error.status not in self.statuses:
                return None
            if error.retry_after is not None:
                return error.retry_after if error.retry_after <= self.max_wait else None
        elif not isinstance(error, httpx.TransportError):
            return None
        wait = self.backoff * (2**attempt)
        return min(self.max_wait, wait * (0.5 + random.random() / 2))


# A step the driver performs: None = send the request (and ``.send`` the response back,
# or ``.throw`` the transport error); a float = sleep that many seconds.
Step = float | None
Exchange = Generator[Step, httpx.Response | None, T]


def exchange(call: Call[T], policy: RetryPolicy) -> Exchange[T]:
    """Drive one call to its parsed result, raising ``RecserveError`` for an error answer."""
    attempt = 0
    while True:
        failure: Exception
        try:
            response = yield None
        except httpx.TransportError as exc:
            failure = exc
        else:
            assert response is not None
            if response.status_code < 400:
                return call.parse(response)
            failure = error_from_response(response)
        wait = policy.delay(call, attempt, failure)
        if wait is None:
            raise failure
        attempt += 1
        yield wait


class JobWatch:
    """The rule of ``wait_for_job``: poll every ``poll_interval`` seconds until the job
    succeeds (returned), fails (``JobFailed``) or ``timeout`` passes (``JobTimeout``)."""

    def __init__(
        self,
        timeout: float,
        poll_interval: float,
        on_progress: Callable[[JobStatus], None] | None,
        now: float,
    ):
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.on_progress = on_progress
        self.deadline = now + timeout

    def next_wait(self, job: JobStatus, now: float) -> float | None:
        """None when ``job`` succeeded; else the seconds to sleep before the next poll."""
        if self.on_progress is not None:
            self.on_progress(job)
        if job.status == "succeeded":
            return None
        if job.status == "failed":
            raise JobFailed(job)
        if now >= self.deadline:
            raise JobTimeout(job, self.timeout)
        return min(self.poll_interval, self.deadline - now)


USER_AGENT = "recserve-client"


def http_options(
    base_url: str,
    api_key: str | None,
    timeout: float | httpx.Timeout,
    headers: dict[str, str] | None,
) -> dict[str, Any]:
    """Keyword arguments for ``httpx.Client`` / ``httpx.AsyncClient``: the base URL, the
    ``X-API-Key`` header and the timeout, the same for both clients."""
    sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
    if api_key is not None:
        sent["X-API-Key"] = api_key
    return {"base_url": base_url.rstrip("/"), "headers": sent, "timeout": timeout}
