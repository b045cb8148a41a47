"""One ``Call`` builder per API endpoint: path, query, body and result type, in one place
for both clients. Names follow the client methods that use them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypedDict, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from recserve.client.models import (
    BatchJobStatus,
    EnrichResponse,
    ExperimentCreate,
    ExperimentDetail,
    ExperimentInfo,
    ExperimentList,
    FeedbackCreate,
    FeedbackPublic,
    GroupsResponse,
    HealthStatus,
    ItemCreate,
    ItemPublic,
    ItemUpdate,
    JobList,
    JobStatus,
    ListResponse,
    LlmListResponse,
    ModelList,
    Page,
    PeopleResponse,
    RankResponse,
    ReadyStatus,
    RelationCreate,
    RelationPublic,
    ScenarioInfo,
    ScenarioList,
    SearchResponse,
    UserCreate,
    UserExport,
    UserPublic,
    UserUpdate,
    VersionInfo,
    WriteResult,
)
from recserve.client.protocol import Call

M = TypeVar("M", bound=BaseModel)
Row = BaseModel | Mapping[str, Any]
Promote = Literal["if_better", "always", "never"]
BatchScenario = Literal["recommended", "popular", "trending", "latest"]
# LLM stage tasks of a list (docs/language.md): "rerank,explain", ["rerank", "themes"], "off"
Llm = str | Sequence[str] | None


class ListOptions(TypedDict, total=False):
    """The parameters every item list takes (docs/scenarios.md, "The request path")."""

    n: int  # how many items (default 10)
    offset: int  # items to skip: the next page starts at offset + n
    exclude_seen: bool  # leave out what the user gave feedback on (default true)
    category: str  # only items of this category
    filter: str  # an expression: "price < 20 and color in ('red', 'blue')"
    include: Sequence[str]  # allow list of item ids
    exclude: Sequence[str]  # deny list of item ids
    diversity: float  # 0 (by relevance) .. 1 (most varied)
    pins: Mapping[str, int] | Sequence[tuple[str, int]]  # item id -> 1-based position
    explain: bool  # add an explanation to every item
    fields: Sequence[str]  # stored item fields per entry, as ``details``: ["title", "tags"]


_LIST_KEYS = frozenset(ListOptions.__annotations__)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def list_params(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``ListOptions`` as query pairs; lists repeat their parameter. A misspelt option is a
    ``TypeError`` here rather than a parameter the server would silently ignore."""
    unknown = sorted(set(options) - _LIST_KEYS)
    if unknown:
        raise TypeError(f"unknown list option(s) {unknown}; known: {sorted(_LIST_KEYS)}")
    params: list[tuple[str, str]] = []
    for name, value in options.items():
        if value is None:
            continue
        if name in ("include", "exclude"):
            if isinstance(value, str):
                raise TypeError(f"{name} takes a list of item ids, not one string")
            params.extend((name, str(v)) for v in value)
        elif name == "fields":
            params.extend(_fields(value))
        elif name == "pins":
            pairs = value.items() if isinstance(value, Mapping) else value
            params.extend(("pin", f"{item}:{int(position)}") for item, position in pairs)
        else:
            params.append((name, _text(value)))
    return params


def _fields(names: Sequence[str] | str | None) -> list[tuple[str, str]]:
    """Item field names as the one comma-separated ``fields`` parameter (none: nothing)."""
    if not names:
        return []
    return [("fields", names if isinstance(names, str) else ",".join(names))]


def _query(**values: Any) -> list[tuple[str, str]]:
    return [(k, _text(v)) for k, v in values.items() if v is not None]


def _seg(value: str) -> str:
    """An id as one path segment (``/``, ``?``, ``#``, spaces escaped)."""
    return quote(value, safe="")


def _model(cls: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: cls.model_validate_json(response.content)


def _nothing(_response: httpx.Response) -> None:
    return None


def _text_body(response: httpx.Response) -> str:
    return response.text


def rows(values: Iterable[Row]) -> list[dict[str, Any]]:
    """Rows given as models (only the fields set are sent) or mappings, as JSON objects."""
    if isinstance(values, BaseModel | Mapping | str | bytes):
        raise TypeError("pass a list of rows, not a single row")
    return [_row(value) for value in values]


def _row(value: Row) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    return dict(value)


def _get(path: str, parse: Callable[[httpx.Response], M], **query: Any) -> Call[M]:
    return Call("GET", path, parse, _query(**query), idempotent=True)


# items and users ------------------------------------------------------------------------


def upsert_items(items: Iterable[ItemCreate | Mapping[str, Any]]) -> Call[WriteResult]:
    return Call("POST", "/v1/items", _model(WriteResult), json=rows(items))


def enrich_items(item_ids: Sequence[str] | None, limit: int) -> Call[EnrichResponse]:
    body: dict[str, Any] = {"limit": limit}
    if item_ids is not None:
        body["item_ids"] = list(item_ids)
    return Call("POST", "/v1/items/enrich", _model(EnrichResponse), json=body)


def list_items(cursor: str | None = None, limit: int = 100) -> Call[Page[ItemPublic]]:
    return _get("/v1/items", _model(Page[ItemPublic]), cursor=cursor, limit=limit)


def get_item(item_id: str) -> Call[ItemPublic]:
    return _get(f"/v1/items/{_seg(item_id)}", _model(ItemPublic))


def update_item(item_id: str, changes: ItemUpdate | Mapping[str, Any]) -> Call[ItemPublic]:
    return Call("PATCH", f"/v1/items/{_seg(item_id)}", _model(ItemPublic), json=_row(changes))


def delete_item(item_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/items/{_seg(item_id)}", _nothing)


def upsert_users(users: Iterable[UserCreate | Mapping[str, Any]]) -> Call[WriteResult]:
    return Call("POST", "/v1/users", _model(WriteResult), json=rows(users))


def list_users(cursor: str | None = None, limit: int = 100) -> Call[Page[UserPublic]]:
    return _get("/v1/users", _model(Page[UserPublic]), cursor=cursor, limit=limit)


def get_user(user_id: str) -> Call[UserPublic]:
    return _get(f"/v1/users/{_seg(user_id)}", _model(UserPublic))


def update_user(user_id: str, changes: UserUpdate | Mapping[str, Any]) -> Call[UserPublic]:
    return Call("PATCH", f"/v1/users/{_seg(user_id)}", _model(UserPublic), json=_row(changes))


def delete_user(user_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/users/{_seg(user_id)}", _nothing)


def export_user(user_id: str) -> Call[UserExport]:
    return _get(f"/v1/users/{_seg(user_id)}/export", _model(UserExport))


# feedback and relations -------------------------------------------------------------------


def add_feedback(events: Iterable[FeedbackCreate | Mapping[str, Any]]) -> Call[WriteResult]:
    return Call("POST", "/v1/feedback", _model(WriteResult), json=rows(events))


def user_feedback(
    user_id: str, cursor: str | None = None, limit: int = 100
) -> Call[Page[FeedbackPublic]]:
    path = f"/v1/users/{_seg(user_id)}/feedback"
    return _get(path, _model(Page[FeedbackPublic]), cursor=cursor, limit=limit)


def item_feedback(
    item_id: str, cursor: str | None = None, limit: int = 100
) -> Call[Page[FeedbackPublic]]:
    path = f"/v1/items/{_seg(item_id)}/feedback"
    return _get(path, _model(Page[FeedbackPublic]), cursor=cursor, limit=limit)


def add_relations(relations: Iterable[RelationCreate | Mapping[str, Any]]) -> Call[WriteResult]:
    return Call("POST", "/v1/relations", _model(WriteResult), json=rows(relations))


def user_relations(user_id: str) -> Call[Page[RelationPublic]]:
    return _get(f"/v1/users/{_seg(user_id)}/relations", _model(Page[RelationPublic]))


# recommendations --------------------------------------------------------------------------


def _list(path: str, options: Mapping[str, Any], **query: Any) -> Call[ListResponse]:
    params = _query(**query) + list_params(options)
    return Call("GET", path, _model(ListResponse), params, idempotent=True)


def _llm_list(
    path: str, options: Mapping[str, Any], llm: Llm, **query: Any
) -> Call[LlmListResponse]:
    """A list the LLM stage may answer: its ``llm`` block is kept (``LlmListResponse``)."""
    tasks = llm if llm is None or isinstance(llm, str) else ",".join(llm)
    params = _query(**query, llm=tasks) + list_params(options)
    return Call("GET", path, _model(LlmListResponse), params, idempotent=True)


def recommend(
    user_id: str, options: ListOptions, query: str | None = None, llm: Llm = None
) -> Call[LlmListResponse]:
    return _llm_list(f"/v1/users/{_seg(user_id)}/recommendations", options, llm, query=query)


def search(
    q: str,
    n: int | None,
    mode: str | None,
    category: str | None,
    filter: str | None,
    user_id: str | None,
) -> Call[SearchResponse]:
    params = _query(q=q, n=n, mode=mode, category=category, filter=filter, user_id=user_id)
    return Call("GET", "/v1/search", _model(SearchResponse), params, idempotent=True)


def similar_items(item_id: str, options: ListOptions) -> Call[ListResponse]:
    return _list(f"/v1/items/{_seg(item_id)}/similar", options)


def bought_together(item_id: str, options: ListOptions) -> Call[ListResponse]:
    return _list(f"/v1/items/{_seg(item_id)}/bought-together", options)


def popular(user_id: str | None, options: ListOptions, llm: Llm = None) -> Call[LlmListResponse]:
    return _llm_list("/v1/popular", options, llm, user_id=user_id)


def trending(user_id: str | None, options: ListOptions, llm: Llm = None) -> Call[LlmListResponse]:
    return _llm_list("/v1/trending", options, llm, user_id=user_id)


def latest(user_id: str | None, options: ListOptions, llm: Llm = None) -> Call[LlmListResponse]:
    return _llm_list("/v1/latest", options, llm, user_id=user_id)


def session_recommendations(session_id: str, options: ListOptions) -> Call[ListResponse]:
    return _list(f"/v1/sessions/{_seg(session_id)}/recommendations", options)


def session_items_recommendations(
    item_ids: Sequence[str], options: ListOptions
) -> Call[ListResponse]:
    return Call(
        "POST",
        "/v1/sessions/recommendations",
        _model(ListResponse),
        list_params(options),
        json={"item_ids": list(item_ids)},
        idempotent=True,  # a read: nothing is stored
    )


def because_you_liked(user_id: str, anchors: int, options: ListOptions) -> Call[GroupsResponse]:
    params = _query(anchors=anchors) + list_params(options)
    path = f"/v1/users/{_seg(user_id)}/because-you-liked"
    return Call("GET", path, _model(GroupsResponse), params, idempotent=True)


def people_you_may_know(user_id: str, n: int, offset: int) -> Call[PeopleResponse]:
    path = f"/v1/users/{_seg(user_id)}/people-you-may-know"
    return _get(path, _model(PeopleResponse), n=n, offset=offset)


def rank(
    user_id: str, item_ids: Sequence[str], fields: Sequence[str] | None = None
) -> Call[RankResponse]:
    return Call(
        "POST",
        f"/v1/users/{_seg(user_id)}/rank",
        _model(RankResponse),
        _fields(fields),
        json={"item_ids": list(item_ids)},
        idempotent=True,  # a read: nothing is stored
    )


# models, scenarios and training jobs ------------------------------------------------------


def list_models(name: str | None = None) -> Call[ModelList]:
    return _get("/v1/models", _model(ModelList), name=name)


def get_model(name: str, version: str) -> Call[VersionInfo]:
    return _get(f"/v1/models/{_seg(name)}/{_seg(version)}", _model(VersionInfo))


def promote(name: str, version: str, scenario: str) -> Call[ScenarioInfo]:
    path = f"/v1/models/{_seg(name)}/{_seg(version)}/promote"
    return Call("POST", path, _model(ScenarioInfo), json={"scenario": scenario})


def rollback(scenario: str) -> Call[ScenarioInfo]:
    path = f"/v1/scenarios/{_seg(scenario)}/rollback"
    return Call("POST", path, _model(ScenarioInfo))


def list_scenarios() -> Call[ScenarioList]:
    return _get("/v1/scenarios", _model(ScenarioList))


def train(
    models: Sequence[str] | None, scenarios: Sequence[str] | None, promote: Promote
) -> Call[JobStatus]:
    body: dict[str, Any] = {"promote": promote}
    if models is not None:
        body["models"] = list(models)
    if scenarios is not None:
        body["scenarios"] = list(scenarios)
    return Call("POST", "/v1/models/train", _model(JobStatus), json=body)


def get_job(job_id: str) -> Call[JobStatus]:
    return _get(f"/v1/jobs/{_seg(job_id)}", _model(JobStatus))


def list_jobs(limit: int = 20) -> Call[JobList]:
    return _get("/v1/jobs", _model(JobList), limit=limit)


# batch recommendations ---------------------------------------------------------------------


def start_batch(
    n: int, scenario: BatchScenario, users: Sequence[str] | None
) -> Call[BatchJobStatus]:
    body: dict[str, Any] = {"n": n, "scenario": scenario}
    if users is not None:
        if isinstance(users, str):
            raise TypeError("users takes a list of user ids, not one string")
        body["users"] = list(users)
    return Call("POST", "/v1/recommendations/batch", _model(BatchJobStatus), json=body)


def get_batch(job_id: str) -> Call[BatchJobStatus]:
    return _get(f"/v1/recommendations/batch/{_seg(job_id)}", _model(BatchJobStatus))


def _json_lines(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def batch_result(job_id: str) -> Call[list[dict[str, Any]]]:
    path = f"/v1/recommendations/batch/{_seg(job_id)}/result"
    return Call("GET", path, _json_lines, idempotent=True)


# experiments -------------------------------------------------------------------------------


def create_experiment(experiment: ExperimentCreate | Mapping[str, Any]) -> Call[ExperimentInfo]:
    return Call("POST", "/v1/experiments", _model(ExperimentInfo), json=_row(experiment))


def list_experiments(status: str | None = None, limit: int = 100) -> Call[ExperimentList]:
    return _get("/v1/experiments", _model(ExperimentList), status=status, limit=limit)


def get_experiment(experiment_id: str) -> Call[ExperimentDetail]:
    return _get(f"/v1/experiments/{_seg(experiment_id)}", _model(ExperimentDetail))


def start_experiment(experiment_id: str) -> Call[ExperimentInfo]:
    path = f"/v1/experiments/{_seg(experiment_id)}/start"
    return Call("POST", path, _model(ExperimentInfo))


def stop_experiment(experiment_id: str) -> Call[ExperimentDetail]:
    path = f"/v1/experiments/{_seg(experiment_id)}/stop"
    return Call("POST", path, _model(ExperimentDetail))


# operations --------------------------------------------------------------------------------


def health() -> Call[HealthStatus]:
    return _get("/health", _model(HealthStatus))


def ready() -> Call[ReadyStatus]:
    return _get("/ready", _model(ReadyStatus))


def metrics() -> Call[str]:
    return Call("GET", "/metrics", _text_body, idempotent=True)
