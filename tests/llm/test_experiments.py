"""Under an A/B experiment a re-ranked list is served by the user's variant and logged as
shown: the re-ranked page, not the candidates the LLM was given."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from recserve.llm.rerank import merge_ranking
from tests.live import run_cli
from tests.llm.bookshop import READER, bookshop
from tests.llm.fake_llm import OUTSIDE
from tests.llm.servers import FakeLlm

EXPERIMENT = {
    "experiment_id": "llm-ab",
    "scenario": "recommended",
    "variants": [
        {"name": "control", "share": 0.5, "model": "champion"},
        {"name": "popular", "share": 0.5, "scenario": "popular"},
    ],
}


def served_lists(base: str, user_id: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base}/v1/users/{user_id}/export", timeout=30)
    assert answer.status_code == 200
    return list(answer.json()["experiment_lists"])


def test_the_logged_list_is_the_reranked_page(tmp_path: Path, good_llm: FakeLlm) -> None:
    env = {"RECSERVE_LLM_URL": good_llm.url, "RECSERVE_MODEL_POLL_SECONDS": "0.2"}
    with bookshop(tmp_path, **env) as base:
        run_cli("train", "--models", "popular,item_knn", data_dir=tmp_path)
        for _ in range(100):
            if httpx.get(base + "/ready", timeout=5).status_code == 200:
                break
            time.sleep(0.2)
        assert httpx.post(base + "/v1/experiments", json=EXPERIMENT, timeout=30).status_code < 300
        api = f"{base}/v1/users/{READER}/recommendations"
        plain = httpx.get(api, params={"n": 20, "llm": "off"}, timeout=60).json()
        candidates = [i["item_id"] for i in plain["items"]]
        body = httpx.get(api, params={"n": 3}, timeout=60).json()
        shown = [i["item_id"] for i in body["items"]]
        assert body["experiment"] == "llm-ab" and body["llm"]["applied"]
        assert shown == merge_ranking(candidates, [OUTSIDE, *reversed(candidates[1:])])[:3]
        for _ in range(100):  # the log is written in the background every 0.5 s
            lists = served_lists(base, READER)
            logged = [s for s in lists if s["recommendation_id"] == body["recommendation_id"]]
            if logged:
                break
            time.sleep(0.2)
        assert [s["items"] for s in logged] == [shown]
