"""Every error the API answers is ``ErrorBody`` JSON with a stable ``code``.

Handlers here turn each kind of failure into that shape: request validation, routing
(404/405), our own ``ApiError``, store and serving exceptions, and a last-resort handler
for bugs (500 ``internal_error``, logged with its traceback; no client input should ever
reach it).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from recserve.schemas import ErrorBody
from recserve.serving import ModelNotReady
from recserve.store import InvalidCursor

log = logging.getLogger("recserve.api")

MAX_DETAILS = 50  # error entries returned for one request
MAX_INPUT_CHARS = 200  # echoed input is cut to this length


class ApiError(Exception):
    """An error with an HTTP status and a stable code, answered as ``ErrorBody``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers) if headers else None


class PayloadTooLarge(StarletteHTTPException):
    """Raised while reading a streamed body that passes ``max_request_bytes``.

    A Starlette ``HTTPException`` so that FastAPI's body reader lets it through unchanged.
    """

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit} bytes")


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=details)
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=dict(headers or {})
    )


# JSON-safe validation errors ------------------------------------------------------------


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` made serialisable as strict JSON: no NaN, bytes, exceptions or huge texts."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray):
        value = bytes(value[: MAX_INPUT_CHARS * 4]).decode("utf-8", errors="replace")
    if isinstance(value, str):
        # Lone surrogates (from JSON "\ud800" escapes) cannot be encoded: replace them.
        text = value.encode("utf-8", errors="replace").decode("utf-8")
        return text if len(text) <= MAX_INPUT_CHARS else text[:MAX_INPUT_CHARS] + "..."
    if depth >= 3:
        return "..."
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, depth + 1) for k, v in list(value.items())[:20]}
    if isinstance(value, Sequence):
        return [json_safe(v, depth + 1) for v in list(value)[:20]]
    return json_safe(str(value), depth)


def _loc_text(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors made JSON-safe; a container ``input`` (often the whole body) is dropped."""
    details = []
    for error in list(errors)[:MAX_DETAILS]:
        entry: dict[str, Any] = {
            "type": str(error.get("type", "value_error")),
            "loc": [json_safe(part) for part in error.get("loc", ())],
            "msg": json_safe(str(error.get("msg", ""))),
        }
        value = error.get("input")
        if value is None or isinstance(value, bool | int | float | str):
            entry["input"] = json_safe(value)
        if error.get("ctx"):
            entry["ctx"] = {str(k): json_safe(v) for k, v in error["ctx"].items()}
        details.append(entry)
    return details


def _validation_message(details: list[dict[str, Any]], total: int) -> str:
    if not details:
        return "the request is not valid"
    first = details[0]
    message = f"{_loc_text(first['loc'])}: {first['msg']}"
    if total > 1:
        message += f" (and {total - 1} more error{'s' if total > 2 else ''})"
    return message


# handlers -------------------------------------------------------------------------------


async def _handle_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        error = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (error.get("ctx") or {}).get("error", "malformed JSON")
        loc = error.get("loc", ())
        position = f" at character {loc[1]}" if len(loc) > 1 else ""
        return error_response(
            400, "invalid_json", f"the request body is not valid JSON: {reason}{position}"
        )
    details = validation_details(errors)
    return error_response(
        422, "validation_error", _validation_message(details, len(errors)), details
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _handle_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    code = _HTTP_CODES.get(status, "http_error")
    message = str(exc.detail) if exc.detail else code.replace("_", " ")
    cause = exc.__cause__
    if isinstance(cause, PayloadTooLarge):
        status, code, message = 413, "payload_too_large", str(cause.detail)
    elif isinstance(cause, UnicodeDecodeError):
        code, message = "invalid_encoding", "the request body is not valid UTF-8 text"
    elif isinstance(cause, RecursionError):
        code, message = "invalid_json", "the request body is not valid JSON: nested too deeply"
    elif isinstance(cause, ValueError):  # say, an integer with more than 4300 digits
        code, message = "invalid_json", f"the request body is not valid JSON: {cause}"
    elif status == 400 and cause is not None:
        code, message = "invalid_body", "the request body could not be read"
    elif status == 404:
        message = f"no route matches {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    return error_response(status, code, message, headers=exc.headers)


async def _handle_api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _handle_invalid_cursor(_request: Request, exc: InvalidCursor) -> JSONResponse:
    return error_response(400, "invalid_cursor", f"{exc}: pass a next_cursor from a previous page")


async def _handle_model_not_ready(_request: Request, exc: ModelNotReady) -> JSONResponse:
    return error_response(503, "model_not_ready", str(exc), headers={"Retry-After": "30"})


async def _handle_database_data(_request: Request, exc: sa.exc.DataError) -> JSONResponse:
    # A value the database refuses (say, a NUL character in PostgreSQL text).
    log.warning("database refused a value: %s", exc.orig)
    return error_response(422, "invalid_value", "the database refused a value in this request")


async def _handle_database_integrity(_request: Request, exc: sa.exc.IntegrityError) -> JSONResponse:
    log.warning("integrity error: %s", exc.orig)
    return error_response(409, "conflict", "the request conflicts with stored data; retry it")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (down, restarting, connection
    dropped, pool exhausted) rather than that the request was wrong."""
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated


async def _handle_database_error(_request: Request, exc: sa.exc.SQLAlchemyError) -> JSONResponse:
    """An outage answers 503 ``database_unavailable`` (the client retries; the pool's
    pre-ping reconnects once the database is back); any other database error is a bug."""
    if not database_unavailable(exc):
        raise exc  # a bug: the last-resort handler answers 500 and logs it
    log.error("database unavailable: %s", getattr(exc, "orig", None) or exc)
    return error_response(
        503,
        "database_unavailable",
        "the database is busy or unreachable; retry later",
        headers={"Retry-After": "1"},
    )


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    handlers: dict[type[Exception], Any] = {
        RequestValidationError: _handle_validation,
        StarletteHTTPException: _handle_http,
        ApiError: _handle_api_error,
        InvalidCursor: _handle_invalid_cursor,
        ModelNotReady: _handle_model_not_ready,
        sa.exc.DataError: _handle_database_data,
        sa.exc.IntegrityError: _handle_database_integrity,
        sa.exc.OperationalError: _handle_database_error,
        sa.exc.DBAPIError: _handle_database_error,  # InterfaceError, dropped connections
        sa.exc.TimeoutError: _handle_database_error,  # no pooled connection came free
        Exception: _handle_unexpected,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)


# The error responses every /v1 route may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Malformed request (invalid JSON, bad cursor)",
        401: "Missing or invalid API key",
        403: "The API key lacks the needed scope",
        404: "Not found",
        413: "Request body or batch too large",
        422: "Validation error",
        503: "The database is unreachable (database_unavailable); retry after Retry-After",
    }.items()
}
