"""Structured logs: a JSON formatter (one object per line), a text formatter for humans, and
the request id of the current request in a context variable so every line can carry it."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

# Set by ``RequestIdMiddleware`` for the duration of a request; worker threads started with
# ``run_in_threadpool`` copy the context, so their log lines carry it too.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "recserve_request_id", default=None
)

# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}
# Extra fields never written, whatever a caller passes: secrets must not reach the logs.
_SECRET_WORDS = ("api_key", "apikey", "x-api-key", "authorization", "password", "secret", "token")
REDACTED = "[redacted]"


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return REQUEST_ID.get()


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: (REDACTED if _is_secret(key) else value)
        for key, value in vars(record).items()
        if key not in _RECORD_FIELDS and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id
    and the record's ``extra`` fields; exceptions as a formatted ``exception`` string."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        for key, value in _extras(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The usual one-line text, with ``[request id]`` appended inside a request."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        return f"{text} [{request_id}]" if request_id else text


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (tests and tools replace it)."""

    _recserve = True

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # the base class assigns it; sys.stderr wins
        pass


LogFormat = Literal["text", "json"]


def make_formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(log_format: LogFormat, level: str = "INFO") -> None:
    """Apply the ``log_format`` and ``log_level`` settings (idempotent).

    ``recserve`` loggers get ``level``. With ``json`` every line on stderr must be JSON, so
    the root logger's plain stderr handlers (``logging.basicConfig``) are replaced by one
    JSON handler and uvicorn's handlers get the JSON formatter. With ``text`` a root logger
    without handlers gets a text one; one that has handlers (the CLI, pytest) is left alone.
    """
    logging.getLogger("recserve").setLevel(level.upper())
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_recserve", False)]
    plain = [h for h in root.handlers if type(h) is logging.StreamHandler]
    if log_format == "json":
        for handler in ours + plain:
            root.removeHandler(handler)
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            for uvicorn_handler in logging.getLogger(name).handlers:
                uvicorn_handler.setFormatter(JsonFormatter())
        return
    for handler in ours:
        root.removeHandler(handler)
    if not root.handlers:
        handler = StderrHandler()
        handler.setFormatter(TextFormatter())
        root.addHandler(handler)
