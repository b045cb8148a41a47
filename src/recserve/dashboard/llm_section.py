"""The user page's LLM list (only with ``llm_url``): the recommended list re-ranked by the
LLM, with its themes, shown beside the plain one. A preview: not logged as an impression;
when the LLM falls back, the section says why and shows the plain order."""

from __future__ import annotations

from recserve.api.routes.list_params import list_items
from recserve.dashboard.userpage import N, Section
from recserve.llm.stage import LlmStage
from recserve.serving import ListOptions, ModelNotReady, ServingEngine
from recserve.store import Store

TASKS = frozenset({"rerank", "themes"})


def llm_section(stage: LlmStage, engine: ServingEngine, store: Store, user_id: str) -> Section:
    section = Section("llm_recommended", "Re-ranked by the LLM")
    options = ListOptions(n=N, explain=True)
    wide = ListOptions(n=stage.depth(options, TASKS), explain=True)
    try:
        result = engine.recommend(user_id, wide, log=False)
    except ModelNotReady as exc:
        section.unavailable = str(exc)
        return section
    page, info = stage.apply(store, user_id, result, options, TASKS)
    section.model, section.items = page.model, list_items(page)
    section.themes = info.themes
    failed = [f"{t.task}: {t.fallback}" for t in info.tasks if not t.applied]
    note = "LLM applied" if not failed else f"LLM not applied ({', '.join(failed)}): plain order"
    section.note = note + (f" · {info.tokens} tokens" if info.tokens else "")
    return section
