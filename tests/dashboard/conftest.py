"""A live recserve server over demo data with trained models (and API keys), and a real
headless Chromium driven by Playwright, for the dashboard's browser tests.

Screenshots go to ``$RECSERVE_TEST_ARTEFACTS/dashboard`` when that variable is set, else to
a pytest temporary folder. The ``browser`` fixture comes from ``tests/browser.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from recserve.config import Settings
from recserve.store import Store
from tests.live import live_server, run_cli

ADMIN_KEY = "dash-admin-key-0001"
READ_KEY = "dash-read-key-00001"
KEYS = [
    {"key": ADMIN_KEY, "scopes": ["admin"], "name": "ops"},
    {"key": READ_KEY, "scopes": ["read"], "name": "app"},
]
DEMO_USERS, DEMO_ITEMS = 60, 150


@dataclass
class DemoServer:
    base: str
    data_dir: Path

    def store(self) -> Store:
        return Store.open(Settings(data_dir=self.data_dir).resolved_database_url)

    def counts(self) -> dict[str, int]:
        store = self.store()
        try:
            return store.counts()
        finally:
            store.close()


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("RECSERVE_TEST_ARTEFACTS")
    folder = Path(root) / "dashboard" if root else tmp_path_factory.mktemp("dashboard-shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


SEARCH_SECONDS = "5"  # the demo's training job: its model search


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """``recserve demo --no-serve`` (data, training job, champions), then ``recserve serve``
    with an admin and a read-only key."""
    data_dir = tmp_path_factory.mktemp("dashboard-demo")
    run_cli(
        "demo", "--no-serve", "--users", str(DEMO_USERS), "--items", str(DEMO_ITEMS),
        data_dir=data_dir, RECSERVE_TRAIN_BUDGET_SECONDS=SEARCH_SECONDS,
    )  # fmt: skip
    env = {"RECSERVE_API_KEYS": json.dumps(KEYS), "RECSERVE_MODEL_POLL_SECONDS": "0"}
    with live_server("serve", data_dir=data_dir, **env) as (base, _proc):
        yield DemoServer(base, data_dir)


def log_in(page: Any, base: str, key: str = ADMIN_KEY) -> None:
    page.goto(base + "/dashboard/login")
    page.fill("input[name=key]", key)
    page.click("form button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def page(browser: Any, demo_server: DemoServer) -> Iterator[Any]:
    """A fresh browser context, logged in with the admin key."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    log_in(page, demo_server.base)
    yield page
    context.close()
