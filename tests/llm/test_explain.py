"""Explanations and themes of a list through a live recserve server and fake LLM server
processes: what is asked, what comes back, and the fallback of each task on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.llm.bookshop import bookshop
from tests.llm.servers import FakeLlm

# r15 liked b00 to b04; not the reader of test_rerank.py, whose prompts the shared server
# has cached
LIST = "/v1/users/r15/recommendations"


def ids(body: dict[str, Any]) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def test_explain_and_themes_of_the_page(with_llm: str, good_llm: FakeLlm) -> None:
    before = len(good_llm.requests())
    params = {"n": 4, "offset": 2, "llm": "explain,themes"}
    body = httpx.get(with_llm + LIST, params=params, timeout=60).json()
    llm = body["llm"]
    assert [t["task"] for t in llm["tasks"]] == ["rerank", "explain", "themes"]
    assert llm["applied"] is True
    assert llm["summary"] == "Picked for a reader of the books above."
    assert [r["item_id"] for r in llm["reasons"]] == ids(body)  # the page, in its order
    assert llm["themes"] == ["Cosy winter mysteries", "Space adventures"]
    sent = good_llm.requests()[before:]
    explain = next(r for r in sent if "reasons" in str(r["response_format"]))
    prompt = explain["messages"][1]["content"]
    assert all(f'"id": "{i}"' in prompt for i in ids(body))
    assert prompt.count('"id": ') == 4  # the page only, not the candidates
    assert "Book 4 of space" in prompt  # the reader's history


def test_explain_alone_keeps_the_plain_order(with_llm: str) -> None:
    plain = httpx.get(with_llm + LIST, params={"n": 5, "llm": "off"}, timeout=60).json()
    body = httpx.get(with_llm + "/v1/popular", params={"n": 5, "llm": "themes"}, timeout=60)
    assert body.status_code == 200 and body.json()["llm"]["themes"]
    assert [t["task"] for t in body.json()["llm"]["tasks"]] == ["themes"]  # no user: no rerank
    assert "llm" not in plain


def test_a_failing_task_falls_back_alone(tmp_path: Path, garbage_llm: FakeLlm) -> None:
    env = {"RECSERVE_LLM_URL": garbage_llm.url, "RECSERVE_LLM_RERANK_SCENARIOS": "[]"}
    with bookshop(tmp_path, **env) as base:
        plain = httpx.get(base + LIST, params={"n": 5}, timeout=60).json()
        assert "llm" not in plain  # nothing re-ranked by default here
        answer = httpx.get(base + LIST, params={"n": 5, "llm": "explain"}, timeout=60)
        assert answer.status_code == 200
        body = answer.json()
        assert ids(body) == ids(plain)
        assert body["llm"] == {
            "applied": False,
            "fallback": "invalid",
            "tasks": [
                {"task": "explain", "applied": False, "fallback": "invalid", "cached": False}
            ],
            "summary": None,
            "reasons": [],
            "themes": [],
            "tokens": 0,
        }
