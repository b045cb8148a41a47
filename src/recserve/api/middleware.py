"""Pure ASGI middleware (no ``BaseHTTPMiddleware``: it costs a task and a copy per request)."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recserve.api.errors import PayloadTooLarge, error_response

_BODY_METHODS = {"POST", "PUT", "PATCH"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


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

        await self.app(scope, receive, send_with_id)
