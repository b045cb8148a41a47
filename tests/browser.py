"""A real headless Chromium (Debian's, driven by Playwright) for the tests of pages: the
dashboard's and the API docs'. Without Chromium or the ``playwright`` package they skip,
saying which is missing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One browser per test module, stopped after it: while Playwright's sync API runs it
    holds an event loop in this thread, so ``asyncio.run`` (the async client's tests, in
    another module) fails until it stops."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed (dev extra)"
    )
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium on PATH: apt-get install chromium (.ci/run does it)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()
