"""``recserve evaluate --llm-rerank``: the best model beside its lists re-ranked by a real
(fake) LLM server process, on the same holdout users."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.live import RECSERVE, run_cli
from tests.llm.servers import FakeLlm

DEMO = ["evaluate", "--dataset", "demo", "--demo-users", "60", "--demo-items", "80"]


def test_champion_beside_llm_rerank(tmp_path: Path, good_llm: FakeLlm) -> None:
    before = len(good_llm.requests())
    out = tmp_path / "board.json"
    result = run_cli(
        *DEMO, "--models", "popular,item_knn", "--llm-rerank", "--llm-users", "8",
        "--json", str(out), data_dir=tmp_path / "data",
        RECSERVE_LLM_URL=good_llm.url, RECSERVE_LLM_RERANK_CANDIDATES="12",
    )  # fmt: skip
    assert "champion + LLM re-rank of the top 12" in result.stdout
    assert "fallbacks: none" in result.stdout
    document = json.loads(out.read_text())
    compared = document["llm_rerank"]
    best = max(document["entries"], key=lambda e: e["metrics"]["ndcg@10"])
    assert compared["model"] == best["name"]
    assert compared["users"] == 8 and compared["candidates"] == 12 and compared["k"] == 10
    assert 0 <= compared["champion_ndcg"] <= 1 and 0 <= compared["reranked_ndcg"] <= 1
    assert compared["prompt_tokens"] > 0 and compared["fallbacks"] == {}
    sent = good_llm.requests()[before:]
    assert len(sent) == 8
    candidates = sent[0]["response_format"]["json_schema"]["schema"]["properties"]["ranking"]
    assert len(candidates["items"]["enum"]) == 12
    prompt = sent[0]["messages"][1]["content"]
    assert "The user's recent items, newest first:" in prompt and '"title": "' in prompt


def test_without_an_llm_it_refuses_before_fitting(tmp_path: Path) -> None:
    result = subprocess.run(
        [*RECSERVE, "--data-dir", str(tmp_path), *DEMO, "--llm-rerank"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "set llm_url" in result.stderr
    assert "loading demo" not in result.stderr
