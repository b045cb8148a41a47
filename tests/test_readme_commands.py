"""The README's quick start, run as written on a clean clone of the repository.

`make demo` is the first thing a newcomer types. It once failed on a misplaced CLI option
and no test noticed, because every other test calls the package directly. Here the
committed tree is cloned into a temporary folder and `make demo` runs there exactly as
the README says (its own `.venv`, its own demo data), on a free port; the test curls the
recommendations the demo prints, the similar items and popular lists the README shows,
then stops the server. `make test`, the README's second command, is what `.ci/run` runs
on a clean clone, so CI covers it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
INSTALL_SECONDS = 900  # a fresh .venv: pip installs from its wheel cache
ANSWER_SECONDS = 300  # then demo data, a first model, and the server


def _clean_env() -> dict[str, str]:
    """The caller's environment without anything that would point at this checkout."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RECSERVE_", "PYTHON", "VIRTUAL_ENV", "PYTEST"))
    }


def _readme_commands() -> list[str]:
    block = README.read_text().split("## Quick start", 1)[1].split("```sh", 1)[1].split("```")[0]
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.skip("make and git are needed to run the README's commands")
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    target = tmp_path_factory.mktemp("readme") / "recserve"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


def _curl(url: str) -> tuple[int, dict]:
    """GET with curl, as the README does; (status, JSON body)."""
    out = subprocess.run(
        ["curl", "-s", "-w", "\n%{http_code}", url], capture_output=True, text=True, timeout=30
    )
    body, _, status = out.stdout.rpartition("\n")
    return int(status or 0), json.loads(body) if body.strip().startswith("{") else {}


@pytest.fixture(scope="module")
def demo(clone: Path) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """`make demo` on a free port; yields (base URL, printed output so far, process)."""
    if shutil.which("curl") is None:
        pytest.skip("curl is needed: the README's examples use it")
    assert _readme_commands()[0] == "make demo"
    port = free_port()
    log_path = clone / "demo.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        ["make", "demo", f"PORT={port}"],
        cwd=clone,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=_clean_env(),
        start_new_session=True,  # one signal stops make, recserve and uvicorn together
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + INSTALL_SECONDS + ANSWER_SECONDS
        while "Uvicorn running" not in log_path.read_text():
            assert proc.poll() is None, f"make demo exited:\n{log_path.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"no server:\n{log_path.read_text()[-4000:]}"
            time.sleep(1)
        yield base, log_path.read_text(), proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def test_readme_quick_start_names_the_two_commands() -> None:
    assert _readme_commands() == ["make demo", "make test"]


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_SECONDS + 2 * ANSWER_SECONDS)
def test_make_demo_serves_recommendations_on_a_clean_clone(
    demo: tuple[str, str, subprocess.Popen[str]],
) -> None:
    base, printed, proc = demo
    assert f"dashboard: {base}/" in printed
    suggested = re.search(r"try: curl (\S+/v1/users/(\S+)/recommendations\?n=10)", printed)
    assert suggested, printed[-4000:]
    url, user = suggested.group(1), suggested.group(2)
    assert user != "USER_ID"

    deadline = time.monotonic() + ANSWER_SECONDS  # the first model may still be training
    status, body = _curl(url)
    while status != 200 or not body.get("items"):
        assert proc.poll() is None, "the demo server stopped"
        assert time.monotonic() < deadline, (status, body)
        time.sleep(2)
        status, body = _curl(url)
    items = [entry["item_id"] for entry in body["items"]]
    assert len(items) == 10 and len(set(items)) == 10

    status, similar = _curl(f"{base}/v1/items/{items[0]}/similar?n=10")
    assert status == 200 and similar["items"], similar
    assert items[0] not in {entry["item_id"] for entry in similar["items"]}
    status, popular = _curl(f"{base}/v1/popular?n=10")
    assert status == 200 and len(popular["items"]) == 10, popular


@pytest.mark.slow
def test_make_demo_stops_cleanly_on_ctrl_c(
    demo: tuple[str, str, subprocess.Popen[str]],
) -> None:
    base, _, proc = demo
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=30) in (0, 2, -signal.SIGINT, 130)  # make reports the interrupt
    status, _ = _curl(f"{base}/health")
    assert status == 0  # nothing listens any more
