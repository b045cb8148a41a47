"""The LLM stage against a real OpenAI-protocol server: llama-cpp-python's, over a tiny
model with random weights. Its answers are noise, but schema-bound: the protocol, the
prompts, the token accounting and the strict parsing are what is checked."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.llm.bookshop import READER, bookshop

LIST = f"/v1/users/{READER}/recommendations"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, llama_llm: str) -> Iterator[str]:
    env = {
        "RECSERVE_LLM_URL": llama_llm,
        "RECSERVE_LLM_RESPONSE_FORMAT": "json_object",  # llama-cpp-python's form
        "RECSERVE_LLM_TIMEOUT_SECONDS": "120",  # a loaded CI machine: no fallback by time
        "RECSERVE_LLM_RERANK_CANDIDATES": "8",
    }
    with bookshop(tmp_path_factory.mktemp("llama-shop"), **env) as base:
        yield base


def ids(body: dict[str, object]) -> list[str]:
    return [item["item_id"] for item in body["items"]]  # type: ignore[attr-defined, index]


def test_rerank_applies_the_models_order(shop: str) -> None:
    plain = httpx.get(f"{shop}{LIST}", params={"n": 8, "llm": "off"}, timeout=60).json()
    answer = httpx.get(f"{shop}{LIST}", params={"n": 8}, timeout=180)
    assert answer.status_code == 200
    body = answer.json()
    assert body["llm"]["tasks"][0]["task"] == "rerank"
    assert body["llm"]["applied"] is True, body["llm"]
    assert body["llm"]["tokens"] > 0
    assert sorted(ids(body)) == sorted(ids(plain))  # a permutation of the same candidates


def test_explain_and_themes_parse(shop: str) -> None:
    params = {"n": 3, "llm": "explain,themes,off"}
    assert httpx.get(f"{shop}{LIST}", params=params, timeout=60).status_code == 422
    params = {"n": 3, "llm": "explain,themes"}
    body = httpx.get(f"{shop}{LIST}", params=params, timeout=300).json()
    tasks = {t["task"]: t for t in body["llm"]["tasks"]}
    assert set(tasks) == {"rerank", "explain", "themes"}
    assert all(t["applied"] for t in tasks.values()), body["llm"]
    assert isinstance(body["llm"]["summary"], str)
    assert 1 <= len(body["llm"]["themes"]) <= 3
    assert {r["item_id"] for r in body["llm"]["reasons"]} <= set(ids(body))


def test_enrichment_parses(shop: str) -> None:
    body = httpx.post(f"{shop}/v1/items/enrich", json={"item_ids": ["b27"]}, timeout=300).json()
    assert body["items"][0]["status"] == "enriched", body
    stored = httpx.get(f"{shop}/v1/items/b27", timeout=30).json()
    assert stored["text"] and stored["title"] == "Book 27 of mystery"
