"""Run the real ``recserve`` command (a uvicorn server in a subprocess) for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

RECSERVE = [sys.executable, "-m", "recserve.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(
    *args: str, data_dir: Path, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``recserve ARGS`` to completion; raises with its output if it fails."""
    result = subprocess.run(
        [*RECSERVE, "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )
    if result.returncode != 0:
        raise AssertionError(f"recserve {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@contextlib.contextmanager
def live_server(
    *args: str, data_dir: Path, ready_path: str = "/health", timeout: float = 120, **env: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start ``recserve --data-dir D ARGS --port P``; yield (base URL, process) once it answers."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "server.log").open("w")
    proc = subprocess.Popen(
        [*RECSERVE, "--data-dir", str(data_dir), *args, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {(data_dir / 'server.log').read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + ready_path, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready: {(data_dir / 'server.log').read_text()}")
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
