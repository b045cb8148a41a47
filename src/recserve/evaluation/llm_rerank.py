"""Offline check of the LLM stage: the champion's lists beside the same lists re-ranked by
the LLM, on the same holdout users, with NDCG@K, the tokens spent and the seconds taken
(``recserve evaluate --llm-rerank``).

Each sampled test user's top ``candidates`` items (seen items left out) are re-ranked
exactly as serving re-ranks them (recserve/llm: the same prompt, schema, merge and
fallback); a user whose call fails keeps the champion's order and counts as a fallback.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from recserve.algorithms import Recommender
from recserve.data import Dataset
from recserve.evaluation.metrics import accuracy_metrics
from recserve.evaluation.protocol import ranking_targets, recommend_for, sample_targets
from recserve.evaluation.splitters import Split
from recserve.llm import prompts
from recserve.llm.answers import ranking_spec
from recserve.llm.client import LlmClient, LlmFailure
from recserve.llm.rerank import merge_ranking

HISTORY_ITEMS = 10


@dataclass
class LlmRerankComparison:
    """The champion and the champion + LLM re-rank on the same users."""

    model: str
    users: int
    k: int
    candidates: int
    champion_ndcg: float
    reranked_ndcg: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    fallbacks: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        fallbacks = ", ".join(f"{r} {n}" for r, n in sorted(self.fallbacks.items())) or "none"
        return (
            f"champion + LLM re-rank of the top {self.candidates} ({self.model}, "
            f"{self.users} test users):\n"
            f"  ndcg@{self.k}: champion {self.champion_ndcg:.4f}, "
            f"+ LLM re-rank {self.reranked_ndcg:.4f}\n"
            f"  tokens {self.prompt_tokens + self.completion_tokens:,} (prompt "
            f"{self.prompt_tokens:,}, completion {self.completion_tokens:,}), "
            f"{self.seconds:.1f} s, fallbacks: {fallbacks}"
        )


def _history(train: Dataset, user: int, titles: list[str]) -> list[str]:
    """Titles of the user's latest positive train items, newest first."""
    mine = np.flatnonzero((train.user == user) & (train.kind > 0))
    order = mine[np.argsort(-train.timestamp[mine], kind="stable")]
    items = list(dict.fromkeys(int(i) for i in train.item[order]))[:HISTORY_ITEMS]
    ids = train.items.ids
    return [titles[i] or str(ids[i]) for i in items]


def compare_llm_rerank(
    model: Recommender[Any],
    split: Split,
    client: LlmClient,
    *,
    name: str,
    users: int = 50,
    k: int = 10,
    candidates: int = 20,
    seed: int = 0,
) -> LlmRerankComparison:
    """NDCG@k of ``model`` (fitted on ``split.train``) and of its lists re-ranked by the
    LLM, on a seeded sample of ``users`` test users."""
    train = split.train
    features = train.item_features
    n_items = len(train.items)
    titles = features.titles if features is not None else [""] * n_items
    categories = features.categories if features is not None else [[] for _ in range(n_items)]
    ids = train.items.ids
    targets = sample_targets(ranking_targets(split), users, seed)
    lists = recommend_for(model, targets, max(candidates, k))
    reranked = lists.copy()
    result = LlmRerankComparison(name, len(targets.users), k, candidates, 0.0, 0.0)
    fallbacks: Counter[str] = Counter()
    started = time.perf_counter()
    for row, user in enumerate(targets.users):
        top = [int(i) for i in lists[row, :candidates] if i >= 0]
        if len(top) < 2:
            continue
        candidate_ids = [str(ids[i]) for i in top]
        rows = {str(ids[i]): {"title": titles[i], "categories": categories[i]} for i in top}
        messages = prompts.rerank(_history(train, int(user), titles), candidate_ids, rows)
        try:
            reply = client.complete("rerank", messages, ranking_spec(candidate_ids))
        except LlmFailure as exc:
            fallbacks[exc.reason] += 1
            continue
        result.prompt_tokens += reply.prompt_tokens
        result.completion_tokens += reply.completion_tokens
        position = {item_id: i for item_id, i in zip(candidate_ids, top, strict=True)}
        order = merge_ranking(candidate_ids, reply.answer.ranking)
        reranked[row, : len(top)] = [position[i] for i in order]
    result.seconds = time.perf_counter() - started
    result.fallbacks = dict(fallbacks)
    key = f"ndcg@{k}"
    result.champion_ndcg = accuracy_metrics(lists, targets.relevant, [k], ["ndcg"])[key]
    result.reranked_ndcg = accuracy_metrics(reranked, targets.relevant, [k], ["ndcg"])[key]
    return result
