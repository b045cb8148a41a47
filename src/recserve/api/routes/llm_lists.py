"""``llm=`` on list endpoints: the parameter, and a list answered through the LLM stage
(recserve/llm/stage.py). Without ``llm_url`` a request that asks for a task gets
``400 llm_not_configured``; ``llm=off`` is always accepted and turns the stage off."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Query, Request

from recserve.api.errors import ApiError
from recserve.api.routes.list_params import list_response
from recserve.llm.stage import LlmAsk, LlmStage
from recserve.schemas.llm import LLM_TASKS, LlmListResponse
from recserve.serving import ListOptions, ServingEngine
from recserve.store import Store

LLM_DESCRIPTION = (
    "LLM stage tasks, comma-separated: rerank (re-order the top candidates), explain (why "
    "the list suits the user), themes (short names for the list); off: none, not even the "
    "scenarios re-ranked by default. Needs llm_url (else 400 llm_not_configured)."
)


def _invalid(message: str, value: str) -> ApiError:
    return ApiError(
        422,
        "invalid_llm",
        f"query.llm: {message}",
        [{"type": "invalid_llm", "loc": ["query", "llm"], "msg": message, "input": value}],
    )


async def llm_ask(
    request: Request,
    llm: Annotated[str | None, Query(max_length=100, description=LLM_DESCRIPTION)] = None,
) -> LlmAsk:
    if llm is None:
        return LlmAsk()
    names = [n.strip() for n in llm.split(",") if n.strip()]
    unknown = [n for n in names if n not in (*LLM_TASKS, "off")]
    if unknown or not names:
        said = f"unknown {', '.join(map(repr, unknown))}" if unknown else "no task"
        raise _invalid(f"{said}; known: {', '.join(LLM_TASKS)}, off", llm)
    if "off" in names:
        if len(names) > 1:
            raise _invalid("off cannot be combined with a task", llm)
        return LlmAsk(off=True)
    if request.app.state.llm is None:
        raise ApiError(
            400,
            "llm_not_configured",
            "this server has no LLM stage: set llm_url (RECSERVE_LLM_URL) to use llm=",
        )
    return LlmAsk(tasks=frozenset(names))


LlmParam = Annotated[LlmAsk, Depends(llm_ask)]


def reject_llm(ask: LlmAsk, other: str) -> None:
    """422 ``invalid_llm`` when tasks are asked with a parameter they do not combine with."""
    if ask.tasks:
        raise _invalid(f"llm tasks do not combine with {other}", ",".join(sorted(ask.tasks)))


def llm_stage(request: Request, scenario: str, ask: LlmAsk, user_id: str | None) -> LlmStage | None:
    """The stage when this request gets any LLM task, else None (the plain path)."""
    stage: LlmStage | None = request.app.state.llm
    if stage is None or not stage.tasks_for(scenario, ask, user_id):
        return None
    return stage


def llm_list_body(
    stage: LlmStage,
    engine: ServingEngine,
    store: Store,
    scenario: str,
    user_id: str | None,
    options: ListOptions,
    ask: LlmAsk,
) -> bytes:
    """The list as the plain route answers it (from the top, deep enough for the
    candidates), through the LLM stage, then paged; JSON with the ``llm`` block."""
    tasks = stage.tasks_for(scenario, ask, user_id)
    wide = replace(options, n=stage.depth(options, tasks), offset=0)
    if scenario == "recommended":
        assert user_id is not None
        result = engine.recommend(user_id, wide, log=False)
    else:
        result = engine.global_ranking(scenario, user_id, wide, log=False)
    page, info = stage.apply(store, user_id, result, options, tasks)
    if user_id is not None and page.experiment is not None:
        # under an A/B experiment, log the page as shown (re-ranked), not the candidates
        _served, arm = engine.served_for(scenario, user_id)
        page = engine.served_under(arm, user_id, page, True)
    plain = list_response(page, options, store, user_id=user_id)
    answer = LlmListResponse(**dict(plain), llm=info)
    return answer.model_dump_json().encode()
