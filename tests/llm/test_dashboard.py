"""The dashboard's user page shows the LLM's list beside the plain one, only with llm_url."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.llm.bookshop import bookshop

USER = "r12"  # a reader no other test asks for: the first LLM call for her list is here


def panels(html: str) -> dict[str, list[str]]:
    """Scenario -> the item ids its panel lists, in order."""
    found = {}
    for chunk in html.split('id="panel-')[1:]:
        name = chunk.split('"', 1)[0]
        found[name] = re.findall(r'<li class="rec" data-item-id="([^"]+)"', chunk)
    return found


def test_the_llm_list_is_beside_the_plain_one(with_llm: str) -> None:
    page = httpx.get(f"{with_llm}/dashboard/users/{USER}", timeout=60)
    assert page.status_code == 200
    shown = panels(page.text)
    assert list(shown)[:2] == ["recommended", "llm_recommended"]
    api = f"{with_llm}/v1/users/{USER}/recommendations"
    plain = httpx.get(api, params={"n": 10, "llm": "off"}, timeout=60).json()
    reranked = httpx.get(api, params={"n": 10}, timeout=60).json()
    assert shown["recommended"] == [i["item_id"] for i in plain["items"]]
    assert shown["llm_recommended"] == [i["item_id"] for i in reranked["items"]]
    assert shown["llm_recommended"] != shown["recommended"]
    assert "Re-ranked by the LLM" in page.text and "Cosy winter mysteries" in page.text
    assert "LLM applied" in page.text


def test_no_llm_list_without_llm_url(tmp_path: Path) -> None:
    with bookshop(tmp_path) as base:
        page = httpx.get(f"{base}/dashboard/users/ann", timeout=60)
    assert page.status_code == 200
    assert "recommended" in panels(page.text) and "llm_recommended" not in panels(page.text)
