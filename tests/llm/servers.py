"""LLM servers as real processes for the tests: the fake OpenAI-protocol server
(``fake_llm.py``, always available) and llama-cpp-python's server over a tiny random model
(``tiny_model.py``; skipped with the reason when llama_cpp or gguf is missing)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.live import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakeLlm:
    """A running fake server: its base URL and the requests it logged."""

    url: str
    log: Path

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on {port} within {timeout} s")


@contextlib.contextmanager
def fake_llm(folder: Path, mode: str = "good", delay: float = 0.0) -> Iterator[FakeLlm]:
    """``python -m tests.llm.fake_llm`` in its own process, stopped afterwards."""
    port = free_port()
    log = folder / f"fake-llm-{mode}-{port}.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.llm.fake_llm",
            "--port",
            str(port),
            "--mode",
            mode,
            "--delay",
            str(delay),
            "--log",
            str(log),
        ],
        cwd=ROOT,
    )
    try:
        wait_for_port(port, proc, 30, "the fake LLM server")
        yield FakeLlm(f"http://127.0.0.1:{port}", log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def closed_port_url() -> str:
    """A URL where nothing listens (an LLM server that is down)."""
    return f"http://127.0.0.1:{free_port()}"


def llama_missing() -> str | None:
    """Why llama-cpp-python's server cannot run here, or None when it can."""
    import importlib.util

    for module, package in (("llama_cpp", "llama-cpp-python[server]"), ("gguf", "gguf")):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (make test installs {package}, best-effort)"
    for module in ("uvicorn", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is missing: install llama-cpp-python[server]"
    return None


@contextlib.contextmanager
def llama_server(folder: Path) -> Iterator[str]:
    """``python -m llama_cpp.server`` over the tiny random model; yields its base URL."""
    from tests.llm.tiny_model import write_tiny_model

    model = write_tiny_model(folder / "tiny-llama.gguf")
    port = free_port()
    log = (folder / "llama-server.log").open("w")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    command += ["--chat_format", "chatml", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", "4096", "--n_threads", "1", "--verbose", "False"]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port(port, proc, 120, "llama-cpp-python's server")
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{(folder / 'llama-server.log').read_text()}") from exc
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
