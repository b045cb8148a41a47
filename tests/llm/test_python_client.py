"""The Python clients (sync and async) ask for LLM tasks and enrichment, and keep the
response's ``llm`` block, against a live server whose LLM is a fake server process."""

from __future__ import annotations

import asyncio

from recserve.client import AsyncClient, Client
from recserve.llm.rerank import merge_ranking
from tests.llm.fake_llm import OUTSIDE

USER = "r14"  # a reader no other test asks for


def test_sync_client(with_llm: str) -> None:
    with Client(with_llm) as client:
        plain = client.recommend(USER, llm="off", n=20)
        assert plain.llm is None
        candidates = [i.item_id for i in plain.items]
        answer = client.recommend(USER, llm=["explain", "themes"], n=3)
        assert answer.llm is not None and answer.llm.applied
        assert [t.task for t in answer.llm.tasks] == ["rerank", "explain", "themes"]
        expected = merge_ranking(candidates, [OUTSIDE, *reversed(candidates[1:])])
        assert [i.item_id for i in answer.items] == expected[:3]
        assert answer.llm.themes == ["Cosy winter mysteries", "Space adventures"]
        enriched = client.enrich_items(["b28", "b00"])
        assert [(i.item_id, i.status) for i in enriched.items] == [
            ("b28", "enriched"),
            ("b00", "skipped"),
        ]


def test_async_client(with_llm: str) -> None:
    async def run() -> None:
        async with AsyncClient(with_llm) as client:
            answer = await client.popular(user_id=USER, llm="rerank", n=2)
            assert answer.llm is not None and answer.llm.tasks[0].task == "rerank"
            assert (await client.recommend(USER, llm="off", n=2)).llm is None

    asyncio.run(run())
