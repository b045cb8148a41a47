"""POST /v1/items/enrich through a live server and fake LLM processes: items without text
get a summary and tags through the ordinary item update (search finds them), a second run
changes nothing, and what a user wrote is never overwritten."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.llm.bookshop import NO_TEXT, bookshop, title
from tests.llm.servers import FakeLlm

ENRICH = "/v1/items/enrich"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, good_llm: FakeLlm) -> Iterator[str]:
    with bookshop(tmp_path_factory.mktemp("enrich"), RECSERVE_LLM_URL=good_llm.url) as base:
        yield base


def post(base: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(base + ENRICH, json=body, timeout=120)


def item(base: str, item_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{base}/v1/items/{item_id}", timeout=30)
    assert answer.status_code == 200
    return dict(answer.json())


def search_words(base: str, q: str) -> list[str]:
    answer = httpx.get(base + "/v1/search", params={"q": q, "mode": "words", "n": 50}, timeout=30)
    return [hit["item_id"] for hit in answer.json()["items"]]


def test_items_without_text_are_enriched_once(shop: str, good_llm: FakeLlm) -> None:
    assert search_words(shop, "llm") == []
    before = len(good_llm.requests())
    body = post(shop, {}).json()
    assert body["enriched"] == len(NO_TEXT) and body["failed"] == 0 and body["tokens"] > 0
    assert {i["item_id"] for i in body["items"]} == NO_TEXT
    assert all(i["fields"] == ["tags", "text"] for i in body["items"])
    b25 = item(shop, "b25")
    assert b25["text"] == f"About {title(25)}." and b25["tags"] == ["llm-tag"]
    prompts = [r["messages"][1]["content"] for r in good_llm.requests()[before:]]
    assert any(f"Title: {title(25)}\nCategories: space" in p for p in prompts)
    assert sorted(search_words(shop, "llm")) == sorted(NO_TEXT)  # search sees the tags

    sent = len(good_llm.requests())
    again = post(shop, {}).json()
    assert again == {"enriched": 0, "skipped": 0, "failed": 0, "items": [], "tokens": 0}
    listed = post(shop, {"item_ids": ["b25", "b00", "nope"]}).json()
    assert [(i["item_id"], i["status"]) for i in listed["items"]] == [
        ("b25", "skipped"),
        ("b00", "skipped"),
        ("nope", "not_found"),
    ]
    assert len(good_llm.requests()) == sent  # nothing asked of the LLM
    assert item(shop, "b00")["text"] == "A mystery story, number 0."


def test_tags_a_user_gave_are_kept(shop: str) -> None:
    new = {"item_id": "tagged", "title": "Tagged", "tags": ["mine"]}
    assert httpx.post(shop + "/v1/items", json=[new], timeout=30).status_code == 200
    body = post(shop, {"item_ids": ["tagged"]}).json()
    assert body["items"][0]["fields"] == ["text"]
    stored = item(shop, "tagged")
    assert stored["tags"] == ["mine"] and stored["text"] == "About Tagged."


def test_bad_requests(shop: str, tmp_path: Path) -> None:
    answer = post(shop, {"limit": 0})
    assert answer.status_code == 422
    with bookshop(tmp_path) as plain:
        answer = post(plain, {})
        assert answer.status_code == 400 and answer.json()["code"] == "llm_not_configured"


def test_a_failed_call_leaves_the_item_as_it_was(garbage_llm: FakeLlm, tmp_path: Path) -> None:
    with bookshop(tmp_path, RECSERVE_LLM_URL=garbage_llm.url) as base:
        body = post(base, {"item_ids": ["b26"]}).json()
        assert body["items"] == [
            {"item_id": "b26", "status": "failed", "fields": [], "fallback": "invalid"}
        ]
        stored = item(base, "b26")
        assert stored["text"] is None and stored["tags"] == []
