"""/docs (Swagger UI) and /redoc in a real headless Chromium against a live server, with
every request to another host refused: the pages render the operations from files the
server ships itself, so they work on a machine without internet.

Redoc's bundle shows an "API docs by Redocly" link whose small logo it loads from the
vendor's host and hides when that fails; that image is the one request allowed to fail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.live import live_server

SUMMARY = "Top-n items for a user"  # one operation's summary, as the OpenAPI document says


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("docs-server")
    with live_server("serve", data_dir=data_dir, RECSERVE_MODEL_POLL_SECONDS="0") as (base, _):
        yield base


@pytest.fixture
def offline_page(browser: Any, server: str) -> Iterator[tuple[Any, list[str]]]:
    """A page whose requests to any host but the server's are aborted and recorded."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    own = urlsplit(server).netloc
    refused: list[str] = []

    def only_own_host(route: Any) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            refused.append(f"{route.request.resource_type} {route.request.url}")
            route.abort()

    context.route("**/*", only_own_host)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page, refused
    context.close()


def external_references(html: str, own: str) -> list[str]:
    """src/href values that point to another host (absolute or protocol-relative URLs)."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    found += re.findall(r"""url\(\s*["']?([^"')]+)""", html)
    return [
        u for u in found if u.startswith(("//", "http:", "https:")) and urlsplit(u).netloc != own
    ]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_name_no_other_host(server: str, path: str) -> None:
    response = httpx.get(server + path, timeout=30)
    assert response.status_code == 200
    assert "<script src=" in response.text  # the page loads its renderer ...
    assert external_references(response.text, urlsplit(server).netloc) == []  # ... from here
    assert "cdn" not in response.text.lower()
    assets = re.findall(r"""(?:src|href)="(/[^"]+)""", response.text)
    assert assets
    for asset in assets:  # every asset the page names is served
        assert httpx.get(server + asset, timeout=30).status_code == 200, asset


def test_swagger_ui_renders_the_operations_offline(
    offline_page: tuple[Any, list[str]], server: str, tmp_path: Path
) -> None:
    page, refused = offline_page
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock")
    summaries = page.locator(".opblock-summary-description").all_inner_texts()
    assert SUMMARY in summaries
    assert page.locator(".opblock").count() > 20  # the whole API, not one stray operation
    assert (
        page.locator(
            ".opblock-summary-path", has_text="/v1/users/{user_id}/recommendations"
        ).count()
        >= 1
    )
    assert refused == []
    page.screenshot(path=str(tmp_path / "docs.png"))


def test_redoc_renders_the_operations_offline(
    offline_page: tuple[Any, list[str]], server: str
) -> None:
    page, refused = offline_page
    page.goto(server + "/redoc")
    heading = page.locator("h2", has_text=SUMMARY)
    heading.first.wait_for()
    assert page.locator("h2").count() > 20  # one heading per operation
    assert "/v1/users/{user_id}/recommendations" in page.inner_text("body")
    assert all(request.startswith("image ") for request in refused), refused  # the logo only
