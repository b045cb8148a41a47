"""The LLM stage of a list request: re-rank the top candidates, then explain the page and
name its themes. Each task falls back on its own: a failed call leaves the list as it was
(or without text) and says why in ``LlmInfo``; nothing here raises to the caller."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from recserve.config import FeedbackKind, FeedbackType, Settings
from recserve.llm import prompts
from recserve.llm.answers import THEMES, explanation_spec, ranking_spec
from recserve.llm.client import LlmClient, LlmFailure, LlmReply
from recserve.llm.rerank import merge_ranking, reorder
from recserve.schemas.llm import LlmInfo, LlmReason, LlmTask
from recserve.serving import ListOptions, RecommendationList
from recserve.store import Store

HISTORY_ITEMS = 10  # recent positive items shown to the model


@dataclass(frozen=True)
class LlmAsk:
    """What a request asked of the stage (``llm=rerank,explain``; ``off`` for nothing)."""

    tasks: frozenset[str] = frozenset()
    off: bool = False


class LlmStage:
    """One process's LLM stage over ``client``; ``tasks_for`` says what a request gets."""

    def __init__(
        self,
        client: LlmClient,
        feedback_types: Mapping[str, FeedbackType],
        rerank_scenarios: Sequence[str] = ("recommended",),
        candidates: int = 20,
    ) -> None:
        self.client = client
        self.feedback_types = dict(feedback_types)
        self.rerank_scenarios = frozenset(rerank_scenarios)
        self.candidates = candidates

    @classmethod
    def from_settings(cls, settings: Settings, client: LlmClient) -> LlmStage:
        return cls(
            client,
            settings.feedback_types,
            settings.llm_rerank_scenarios,
            settings.llm_rerank_candidates,
        )

    def tasks_for(self, scenario: str, ask: LlmAsk, user_id: str | None) -> frozenset[str]:
        """The asked tasks, plus re-ranking where the scenario has it on (with a user)."""
        if ask.off:
            return frozenset()
        if scenario in self.rerank_scenarios and user_id is not None:
            return ask.tasks | {"rerank"}
        return ask.tasks

    def depth(self, options: ListOptions, tasks: frozenset[str]) -> int:
        """How many ranked items to ask the engine for: the page, and the candidates."""
        return max(options.depth, self.candidates if "rerank" in tasks else 0)

    def history(self, store: Store, user_id: str | None) -> list[str]:
        """Titles of the user's latest positive items, newest first."""
        if user_id is None:
            return []
        liked: list[str] = []
        for item_id, kind, value, _ts in reversed(store.feedback.user_history(user_id)):
            feedback = self.feedback_types.get(str(kind))
            positive = feedback is not None and feedback.classify(value) == FeedbackKind.POSITIVE
            if positive and item_id not in liked:
                liked.append(item_id)
            if len(liked) == HISTORY_ITEMS:
                break
        rows = store.items.get_many(liked)
        return [str((rows.get(i) or {}).get("title") or i) for i in liked]

    def apply(
        self,
        store: Store,
        user_id: str | None,
        result: RecommendationList,
        options: ListOptions,
        tasks: frozenset[str],
    ) -> tuple[RecommendationList, LlmInfo]:
        """``result`` (ranked from the top, at least ``depth`` long) re-ranked when asked,
        cut to the request's page, with the page's explanation and themes."""
        history = self.history(store, user_id)
        rows = store.items.get_many(result.item_ids[: self.depth(options, tasks)])
        info = LlmInfo(applied=True, tasks=[])
        if "rerank" in tasks:
            result = self._rerank(result, history, rows, info)
        page = _page(result, options)
        if "explain" in tasks and page.item_ids:
            self._explain(page.item_ids, history, rows, info)
        if "themes" in tasks and page.item_ids:
            self._themes(page.item_ids, rows, info)
        return page, info

    def _call(self, info: LlmInfo, task: str, call: Callable[[], LlmReply]) -> LlmReply | None:
        """``call()``'s reply, noted in ``info``; None (and the fallback noted) on failure."""
        try:
            reply = call()
        except LlmFailure as exc:
            self.client.observer.fell_back(task, exc.reason)
            info.tasks.append(LlmTask(task=task, applied=False, fallback=exc.reason))
            info.applied = False
            info.fallback = info.fallback or exc.reason
            return None
        info.tasks.append(LlmTask(task=task, applied=True, cached=reply.cached))
        info.tokens += reply.tokens
        return reply

    def _rerank(
        self,
        result: RecommendationList,
        history: list[str],
        rows: Mapping[str, Mapping[str, Any]],
        info: LlmInfo,
    ) -> RecommendationList:
        top = min(self.candidates, len(result.item_ids))
        ids = [i for i in result.item_ids[:top] if i not in result.pinned]
        if len(ids) < 2:
            info.tasks.append(LlmTask(task="rerank", applied=True))
            return result
        messages = prompts.rerank(history, ids, rows)
        reply = self._call(
            info, "rerank", lambda: self.client.complete("rerank", messages, ranking_spec(ids))
        )
        if reply is None:
            return result
        order = reorder(
            result.item_ids, top, merge_ranking(ids, reply.answer.ranking), result.pinned
        )
        explanations = result.explanations
        return replace(
            result,
            item_ids=[result.item_ids[p] for p in order],
            scores=[result.scores[p] for p in order],
            explanations=[explanations[p] for p in order] if explanations is not None else None,
        )

    def _explain(
        self,
        ids: list[str],
        history: list[str],
        rows: Mapping[str, Mapping[str, Any]],
        info: LlmInfo,
    ) -> None:
        messages = prompts.explain(history, ids, rows)
        spec = explanation_spec(ids)
        reply = self._call(info, "explain", lambda: self.client.complete("explain", messages, spec))
        if reply is not None:
            info.summary = reply.answer.summary
            listed = set(ids)
            info.reasons = [
                LlmReason(item_id=r.item_id, why=r.why)
                for r in reply.answer.reasons
                if r.item_id in listed
            ]

    def _themes(self, ids: list[str], rows: Mapping[str, Mapping[str, Any]], info: LlmInfo) -> None:
        messages = prompts.themes(ids, rows)
        reply = self._call(info, "themes", lambda: self.client.complete("themes", messages, THEMES))
        if reply is not None:
            info.themes = [t.strip() for t in reply.answer.themes if t.strip()]


def _page(result: RecommendationList, options: ListOptions) -> RecommendationList:
    """The request's page of a list ranked from the top."""
    window = slice(options.offset, options.offset + options.n)
    explanations = result.explanations
    return replace(
        result,
        item_ids=result.item_ids[window],
        scores=result.scores[window],
        explanations=explanations[window] if explanations is not None else None,
    )
