"""/metrics of a live server counts the LLM stage: calls, latency, tokens, fallbacks by
reason and cache hits; and has none of it without ``llm_url``."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.llm.bookshop import bookshop
from tests.llm.servers import FakeLlm


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text (0 when absent)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match:
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(match.group(2))
    return 0.0


def test_calls_tokens_and_cache_hits_are_counted(with_llm: str, good_llm: FakeLlm) -> None:
    before = httpx.get(with_llm + "/metrics", timeout=30).text
    list_path = "/v1/users/r10/recommendations"  # a reader no other test asks for
    for _ in range(2):
        answer = httpx.get(with_llm + list_path, params={"n": 3}, timeout=60)
        assert answer.status_code == 200 and answer.json()["llm"]["applied"]
    after = httpx.get(with_llm + "/metrics", timeout=30).text

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("recserve_llm_calls_total", task="rerank", outcome="ok") == 1
    assert grew("recserve_llm_cache_lookups_total", task="rerank", result="miss") == 1
    assert grew("recserve_llm_cache_lookups_total", task="rerank", result="hit") == 1
    assert grew("recserve_llm_call_duration_seconds_count", task="rerank") == 1
    assert grew("recserve_llm_tokens_total", task="rerank", kind="prompt") > 0
    assert grew("recserve_llm_tokens_total", task="rerank", kind="completion") > 0


def test_fallbacks_are_counted_by_reason(tmp_path: Path, garbage_llm: FakeLlm) -> None:
    with bookshop(tmp_path, RECSERVE_LLM_URL=garbage_llm.url) as base:
        assert httpx.get(base + "/v1/users/ann/recommendations", timeout=60).status_code == 200
        text = httpx.get(base + "/metrics", timeout=30).text
    assert sample(text, "recserve_llm_fallbacks_total", task="rerank", reason="invalid") == 1
    assert sample(text, "recserve_llm_fallbacks_total", task="rerank", reason="timeout") == 0
    assert sample(text, "recserve_llm_calls_total", task="rerank", outcome="invalid") == 1


def test_no_llm_metrics_without_llm_url(tmp_path: Path) -> None:
    with bookshop(tmp_path) as base:
        text = httpx.get(base + "/metrics", timeout=30).text
    assert "recserve_http_request_duration_seconds" in text and "recserve_llm_" not in text
