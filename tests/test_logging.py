"""Structured logs: JSON lines with the request id the response shows, one access line per
request, no API keys in the output, and the text format for humans."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recserve.config import ConfigError, load_settings
from recserve.observability import JsonFormatter, TextFormatter, configure_logging
from tests.api.conftest import make_client as make_client  # the fixture

ADMIN_KEY = "s3cret-admin-key-42"
READ_KEY = "s3cret-reader-key-42"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``configure_logging`` changes process-wide handlers: put them back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), logging.getLogger("recserve").level
    yield
    root.handlers[:] = handlers
    logging.getLogger("recserve").setLevel(level)


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line must be JSON


def test_json_logs_carry_the_request_id_and_never_the_key(
    make_client: Callable[..., TestClient], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(
        log_format="json",
        api_keys=[
            {"key": ADMIN_KEY, "scopes": ["admin"]},
            {"key": READ_KEY, "scopes": ["read"]},
        ],
    )
    chosen = client.get(
        "/v1/items", headers={"X-API-Key": READ_KEY, "X-Request-ID": "trace-abc.123"}
    )
    assert chosen.status_code == 200 and chosen.headers["X-Request-ID"] == "trace-abc.123"
    generated = client.post(
        "/v1/feedback",
        headers={"X-API-Key": ADMIN_KEY},
        json=[{"user_id": "u1", "item_id": "i1", "type": "like"}],
    )
    assert generated.status_code == 200
    refused = client.get("/v1/items", headers={"X-API-Key": "wrong-" + ADMIN_KEY})
    assert refused.status_code == 401
    logging.getLogger("recserve.test").warning("oops", extra={"api_key": ADMIN_KEY, "n": 3})

    out = capsys.readouterr()
    assert ADMIN_KEY not in out.err + out.out and READ_KEY not in out.err + out.out
    lines = json_lines(out.err)
    access = [line for line in lines if line["logger"] == "recserve.access"]
    assert [(a["method"], a["route"], a["status"]) for a in access] == [
        ("GET", "/v1/items", 200),
        ("POST", "/v1/feedback", 200),
        ("GET", "/v1/items", 401),
    ]
    assert [a["request_id"] for a in access] == [
        "trace-abc.123",
        generated.headers["X-Request-ID"],
        refused.headers["X-Request-ID"],
    ]
    for line in access:
        assert {"time", "level", "logger", "message", "duration_ms"} <= set(line)
        assert line["level"] == "INFO" and line["duration_ms"] >= 0
        assert line["message"].startswith(f"{line['method']} {line['route']} {line['status']} ")
    extra = next(line for line in lines if line["logger"] == "recserve.test")
    assert extra["api_key"] == "[redacted]" and extra["n"] == 3 and "request_id" not in extra


def test_text_logs_show_the_request_id(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()  # text is the default
    caplog.handler.setFormatter(TextFormatter())
    with caplog.at_level(logging.INFO, logger="recserve.access"):
        response = client.get("/v1/users/someone", headers={"X-Request-ID": "req-7"})
    assert response.status_code == 404
    line = next(line for line in caplog.text.splitlines() if "recserve.access" in line)
    assert line.endswith("GET /v1/users/{user_id} 404 " + line.split(" 404 ")[1])
    assert "[req-7]" in line and "someone" not in line


def test_json_formatter_writes_exceptions_and_extras() -> None:
    logger = logging.getLogger("recserve.test.formatter")
    try:
        raise ValueError("broken")
    except ValueError:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "failed %s", ("x",), exc_info=sys.exc_info(),
            extra={"job_id": "j1", "Authorization": "Bearer abc"},
        )  # fmt: skip
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed x" and line["level"] == "ERROR"
    assert line["logger"] == "recserve.test.formatter" and line["time"].endswith("+00:00")
    assert "ValueError: broken" in line["exception"]
    assert line["job_id"] == "j1" and line["Authorization"] == "[redacted]"


def test_configure_json_replaces_plain_stderr_handlers() -> None:
    root = logging.getLogger()
    plain = logging.StreamHandler()
    root.addHandler(plain)
    configure_logging("json", "debug")
    assert plain not in root.handlers
    ours = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    assert len(ours) == 1
    configure_logging("json", "INFO")  # idempotent: still one handler
    assert len([h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]) == 1
    assert logging.getLogger("recserve").level == logging.INFO


def test_log_settings_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSERVE_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="log_format"):
        load_settings()
    monkeypatch.setenv("RECSERVE_LOG_FORMAT", "json")
    monkeypatch.setenv("RECSERVE_METRICS_PUBLIC", "false")
    settings = load_settings()
    assert settings.log_format == "json" and settings.metrics_public is False


def test_log_level_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSERVE_LOG_LEVEL", "chatty")
    with pytest.raises(ConfigError, match="log_level must be one of"):
        load_settings()
    monkeypatch.setenv("RECSERVE_LOG_LEVEL", "debug")
    assert load_settings().log_level == "DEBUG"
