"""The API's JSON errors as exceptions: one class per kind of failure a caller handles.

Every error the server answers is ``{"code", "message", "details"}`` (``ErrorBody``); the
HTTP status picks the class and the stable ``code`` stays on the exception, so callers can
catch broadly (``NotFound``) or test exactly (``err.code == "item_not_found"``).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

MAX_MESSAGE_CHARS = 500  # of a non-JSON error body (a proxy's HTML page)


class RecserveError(Exception):
    """An error answer from the service: HTTP ``status``, stable ``code``, a human
    ``message``, optional ``details`` and the ``request_id`` to quote in a bug report."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        *,
        request_id: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.request_id = request_id
        self.retry_after = retry_after


class ValidationFailed(RecserveError):
    """400 or 422: the request is malformed or a value is refused (``details`` says where)."""


class Unauthorized(RecserveError):
    """401: the API key is missing or wrong."""


class Forbidden(RecserveError):
    """403: the API key lacks the scope (read, write, admin) this call needs."""


class NotFound(RecserveError):
    """404: no such item, user, job or model version (or no such route)."""


class Conflict(RecserveError):
    """409: the request conflicts with the state (a job running, no previous champion)."""


class PayloadTooLarge(RecserveError):
    """413: the body or the batch is over the server's limit; split it."""


class RateLimited(RecserveError):
    """429: too many requests; ``retry_after`` seconds says when to try again."""


class ServerError(RecserveError):
    """500: a bug on the server (logged there under ``request_id``)."""


class ServerUnavailable(RecserveError):
    """503: the service or its database is not ready; ``retry_after`` when it says."""


class ModelNotReady(ServerUnavailable):
    """503 ``model_not_ready``: no model is trained for this scenario yet."""


_BY_STATUS: dict[int, type[RecserveError]] = {
    400: ValidationFailed,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
    429: RateLimited,
    500: ServerError,
    502: ServerUnavailable,
    503: ServerUnavailable,
    504: ServerUnavailable,
}
_BY_CODE: dict[str, type[RecserveError]] = {"model_not_ready": ModelNotReady}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: delta seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def _body(response: httpx.Response) -> tuple[str, str, list[dict[str, Any]] | None]:
    """(code, message, details) from an ``ErrorBody``, or a stand-in for another body."""
    fallback = response.reason_phrase.lower().replace(" ", "_") or "http_error"
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if isinstance(data, Mapping) and isinstance(data.get("code"), str):
        details = data.get("details")
        return (
            data["code"],
            str(data.get("message", "")),
            details if isinstance(details, list) else None,
        )
    text = response.content.decode("utf-8", errors="replace").strip()[:MAX_MESSAGE_CHARS]
    return fallback, text or f"HTTP {response.status_code}", None


def error_from_response(response: httpx.Response) -> RecserveError:
    """The exception for an error response (status 400 and above)."""
    code, message, details = _body(response)
    status = response.status_code
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else RecserveError
    return cls(
        status,
        code,
        message,
        details,
        request_id=response.headers.get("X-Request-ID"),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


class JobFailed(Exception):
    """A training job ended with status ``failed``; ``job`` holds its final status."""

    def __init__(self, job: Any):
        super().__init__(f"training job {job.job_id} failed: {job.error}")
        self.job = job


class JobTimeout(TimeoutError):
    """``wait_for_job`` gave up; ``job`` is the last status seen."""

    def __init__(self, job: Any, timeout: float):
        super().__init__(
            f"training job {job.job_id} still {job.status} after {timeout:g} s "
            f"(progress {job.progress:.0%}, step {job.step!r})"
        )
        self.job = job
