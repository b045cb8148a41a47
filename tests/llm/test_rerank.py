"""Listwise re-ranking through a live recserve server and real LLM server processes: the
prompt, the merge of the model's order, the cache, the fallbacks (never a 5xx), and the
plain behaviour without ``llm_url``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from recserve.llm.rerank import merge_ranking, reorder
from tests.llm.bookshop import READER, bookshop, title
from tests.llm.fake_llm import OUTSIDE
from tests.llm.servers import FakeLlm, closed_port_url

LIST = f"/v1/users/{READER}/recommendations"


def ids(body: dict[str, Any]) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def get(base: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(base + path, params=params, timeout=60)


def test_merge_drops_strangers_and_keeps_the_rest_in_order() -> None:
    assert merge_ranking(["a", "b", "c", "d"], ["c", "x", "c", "a"]) == ["c", "a", "b", "d"]
    assert merge_ranking(["a", "b"], []) == ["a", "b"]


def test_reorder_keeps_pinned_slots_and_the_tail() -> None:
    items = ["a", "p", "b", "c", "t"]
    order = reorder(items, 4, ["c", "a", "b"], pinned={"p"})
    assert [items[i] for i in order] == ["c", "p", "a", "b", "t"]


def test_the_list_is_reranked_by_default(with_llm: str, good_llm: FakeLlm) -> None:
    plain = get(with_llm, LIST, n=20, llm="off").json()
    assert "llm" not in plain
    candidates = ids(plain)
    assert len(candidates) == 18 and "b00" not in candidates  # 20 liked, 2 seen by ann
    before = len(good_llm.requests())
    answer = get(with_llm, LIST, n=5)
    assert answer.status_code == 200
    body = answer.json()
    # the fake model reverses the candidates, leaves out the first and adds a stranger
    expected = merge_ranking(candidates, [OUTSIDE, *reversed(candidates[1:])])
    assert ids(body) == expected[:5]
    assert body["llm"]["applied"] is True and body["llm"]["fallback"] is None
    assert body["llm"]["tasks"] == [
        {"task": "rerank", "applied": True, "fallback": None, "cached": False}
    ]
    assert body["llm"]["tokens"] > 0
    page_two = get(with_llm, LIST, n=5, offset=5).json()
    assert ids(page_two) == expected[5:10]
    sent = good_llm.requests()[before]
    prompt = sent["messages"][1]["content"]
    assert title(1) in prompt and title(0) in prompt  # what ann liked, newest first
    assert prompt.index(title(1)) < prompt.index(title(0))
    assert f'{{"id": "{candidates[0]}", "title": "' in prompt and '"categories": [' in prompt
    assert sent["model"] == "tiny" and sent["response_format"]["type"] == "json_schema"


def test_a_repeated_request_is_answered_from_the_cache(with_llm: str, good_llm: FakeLlm) -> None:
    first = get(with_llm, LIST, n=3).json()
    before = len(good_llm.requests())
    again = get(with_llm, LIST, n=3).json()
    assert len(good_llm.requests()) == before
    assert ids(again) == ids(first)
    assert again["llm"]["tasks"][0]["cached"] is True and again["llm"]["tokens"] == 0


def test_popular_with_a_user_reranks_on_request(with_llm: str) -> None:
    plain = get(with_llm, "/v1/popular", user_id=READER, n=20).json()
    assert "llm" not in plain  # popular is not in llm_rerank_scenarios by default
    body = get(with_llm, "/v1/popular", user_id=READER, n=20, llm="rerank").json()
    assert body["llm"]["applied"] is True
    assert ids(body) == merge_ranking(ids(plain), list(reversed(ids(plain)[1:])))


def test_bad_llm_values_are_422(with_llm: str) -> None:
    for value in ("bogus", "off,rerank", ","):
        answer = get(with_llm, LIST, llm=value)
        assert answer.status_code == 422 and answer.json()["code"] == "invalid_llm"
    answer = get(with_llm, LIST, llm="explain", query="space")
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_llm"


def test_without_llm_url_lists_are_plain_and_llm_is_refused(tmp_path: Path) -> None:
    with bookshop(tmp_path) as base:
        plain = get(base, LIST, n=5)
        assert plain.status_code == 200 and "llm" not in plain.json()
        assert ids(get(base, LIST, n=5, llm="off").json()) == ids(plain.json())
        for value in ("rerank", "explain", "themes"):
            answer = get(base, LIST, llm=value)
            assert answer.status_code == 400
            assert answer.json()["code"] == "llm_not_configured"


@pytest.mark.parametrize("server", ["slow", "garbage", "down"])
def test_failures_fall_back_to_the_plain_list(
    server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = closed_port_url() if server == "down" else request.getfixturevalue(f"{server}_llm").url
    reason = {"slow": "timeout", "garbage": "invalid", "down": "unavailable"}[server]
    env = {"RECSERVE_LLM_URL": url, "RECSERVE_LLM_TIMEOUT_SECONDS": "1"}
    with bookshop(tmp_path, **env) as base:
        plain = get(base, LIST, n=5, llm="off").json()
        answer = get(base, LIST, n=5)
        assert answer.status_code == 200
        body = answer.json()
        assert ids(body) == ids(plain)
        assert body["llm"]["applied"] is False and body["llm"]["fallback"] == reason
        assert body["llm"]["tasks"][0]["fallback"] == reason
