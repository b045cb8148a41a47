"""Histories newest first by event time, and an events chart that shows old data, in a real
headless Chromium against a live server: an import of older events arriving after the live
ones must not reorder the user page or the overview's recent events, and the first live
event after an old import must not leave the chart with one bar."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import live_server

DAY = 86_400
IMPORT_START = 1_717_200_000  # 2024-06-01 00:00 UTC


def iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An open service (no keys: the dashboard needs no login) holding, in arrival order,
    a live event of now, an import of twenty days in 2024, then a late event of 2024-06-10."""
    data_dir = tmp_path_factory.mktemp("ordering")
    with live_server("serve", data_dir=data_dir, RECSERVE_MODEL_POLL_SECONDS="0") as (base, _):
        post = lambda rows: httpx.post(base + "/v1/feedback", json=rows, timeout=30)  # noqa: E731
        assert post([{"user_id": "ann", "item_id": "live", "type": "view"}]).status_code == 200
        imported = [
            {"user_id": "ann" if day % 2 else f"u{day}", "item_id": f"i{day}", "type": "like",
             "timestamp": iso(IMPORT_START + day * DAY + 18 * 3600)}
            for day in range(20)
        ]  # fmt: skip
        assert post(imported).status_code == 200
        late = {"user_id": "ann", "item_id": "late", "type": "click",
                "timestamp": iso(IMPORT_START + 9 * DAY)}  # fmt: skip
        assert post([late]).status_code == 200
        yield base


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def test_user_history_is_newest_first_by_event_time(page: Any, server: str, tmp_path: Path) -> None:
    api = httpx.get(server + "/v1/users/ann/feedback", timeout=30).json()["data"]
    assert [e["timestamp"] for e in api] == sorted((e["timestamp"] for e in api), reverse=True)
    assert api[0]["item_id"] == "live" and api[-1]["item_id"] == "i1"

    page.goto(server + "/dashboard/users/ann")
    shown = page.locator("#history tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.itemId)"
    )
    assert shown == [e["item_id"] for e in api]
    assert shown[shown.index("late") - 1 : shown.index("late") + 2] == ["i9", "late", "i7"]
    page.screenshot(path=str(tmp_path / "history.png"))


def test_overview_recent_events_and_chart_show_the_data(
    page: Any, server: str, tmp_path: Path
) -> None:
    page.goto(server + "/")
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    times = page.locator("#recent-events tbody tr td:first-child").all_inner_texts()
    assert len(times) == 20
    assert times == sorted(times, reverse=True)  # "YYYY-mm-dd HH:MM:SS" sorts as text
    assert times[0].startswith(time.strftime("%Y-%m-%d", time.gmtime()))  # the live one
    first_item = page.inner_text("#recent-events tbody tr:first-child td:nth-child(4)")
    assert first_item == "live"

    # the live event is two years after the import: week bars reach back to it
    assert "week" in page.inner_text("#chart-caption")
    heights = page.locator("svg.chart rect.bar").evaluate_all(
        "els => els.map(e => Number(e.getAttribute('height')))"
    )
    assert len(heights) == 7 * 24
    assert sum(h > 0 for h in heights) >= 3  # the import's weeks and the live event's
    assert heights[-1] > 0
