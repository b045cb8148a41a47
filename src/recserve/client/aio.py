"""``AsyncClient``: the asyncio client, method for method the same as ``Client``. Calls are
built in ``endpoints`` and driven by ``protocol.exchange``, as in the blocking client; this
module only awaits the sends and sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar, Unpack

import httpx

from recserve.client import endpoints as api
from recserve.client.endpoints import BatchScenario, ListOptions, Promote
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
from recserve.client.protocol import Call, JobWatch, RetryPolicy, exchange, http_options

T = TypeVar("T")
X = TypeVar("X")


class AsyncClient:
    """An asyncio client for one recserve service.

    ``async with AsyncClient("http://127.0.0.1:8000", api_key="...") as client:``; or call
    ``aclose`` to release its connections. ``retries`` > 0 retries idempotent calls on
    connection failures and 429/502/503/504 answers (``RetryPolicy``); errors raise
    ``RecserveError`` subclasses (``recserve.client.errors``).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = 30.0,
        retries: int | RetryPolicy = 0,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.retry = retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries)
        self._http = httpx.AsyncClient(
            **http_options(base_url, api_key, timeout, headers), transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Perform ``call``: send it, sleep and resend while the retry policy says so."""
        steps = exchange(call, self.retry)
        step = next(steps)
        while True:
            try:
                if step is None:
                    try:
                        response = await self._http.request(**call.request_args())
                    except httpx.TransportError as exc:
                        step = steps.throw(exc)
                    else:
                        step = steps.send(response)
                else:
                    await asyncio.sleep(step)
                    step = steps.send(None)
            except StopIteration as done:
                result: T = done.value
                return result

    async def _pages(self, first: Callable[[str | None], Call[Page[X]]]) -> AsyncIterator[X]:
        cursor: str | None = None
        while True:
            page = await self.send(first(cursor))
            for row in page.data:
                yield row
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # items ------------------------------------------------------------------------------

    async def upsert_items(self, items: Iterable[ItemCreate | Mapping[str, Any]]) -> WriteResult:
        """Create or replace items (every field of a stored item is replaced)."""
        return await self.send(api.upsert_items(items))

    async def enrich_items(
        self, item_ids: Sequence[str] | None = None, limit: int = 100
    ) -> EnrichResponse:
        """The LLM's summary and tags for items without text (admin; docs/language.md)."""
        return await self.send(api.enrich_items(item_ids, limit))

    async def get_item(self, item_id: str) -> ItemPublic:
        return await self.send(api.get_item(item_id))

    async def update_item(
        self, item_id: str, changes: ItemUpdate | Mapping[str, Any]
    ) -> ItemPublic:
        """Change only the given fields (``None`` resets a list or mapping to empty)."""
        return await self.send(api.update_item(item_id, changes))

    async def delete_item(self, item_id: str) -> None:
        """Delete an item and its events."""
        await self.send(api.delete_item(item_id))

    async def list_items(self, cursor: str | None = None, limit: int = 100) -> Page[ItemPublic]:
        """One page by item_id; pass ``page.next_cursor`` for the next one."""
        return await self.send(api.list_items(cursor, limit))

    def iter_items(self, page_size: int = 100) -> AsyncIterator[ItemPublic]:
        """Every item, page after page."""
        return self._pages(lambda cursor: api.list_items(cursor, page_size))

    # users ------------------------------------------------------------------------------

    async def upsert_users(self, users: Iterable[UserCreate | Mapping[str, Any]]) -> WriteResult:
        return await self.send(api.upsert_users(users))

    async def get_user(self, user_id: str) -> UserPublic:
        return await self.send(api.get_user(user_id))

    async def update_user(
        self, user_id: str, changes: UserUpdate | Mapping[str, Any]
    ) -> UserPublic:
        return await self.send(api.update_user(user_id, changes))

    async def delete_user(self, user_id: str) -> None:
        """Delete a user with their events and relations; served models forget them."""
        await self.send(api.delete_user(user_id))

    async def list_users(self, cursor: str | None = None, limit: int = 100) -> Page[UserPublic]:
        return await self.send(api.list_users(cursor, limit))

    def iter_users(self, page_size: int = 100) -> AsyncIterator[UserPublic]:
        return self._pages(lambda cursor: api.list_users(cursor, page_size))

    async def export_user(self, user_id: str) -> UserExport:
        """Everything stored about a user (needs the admin scope)."""
        return await self.send(api.export_user(user_id))

    # feedback and relations -------------------------------------------------------------

    async def add_feedback(
        self, events: Iterable[FeedbackCreate | Mapping[str, Any]]
    ) -> WriteResult:
        """Store events; those whose ``event_id`` is already stored count as duplicates."""
        return await self.send(api.add_feedback(events))

    async def user_feedback(
        self, user_id: str, cursor: str | None = None, limit: int = 100
    ) -> Page[FeedbackPublic]:
        """One page of a user's events, newest first."""
        return await self.send(api.user_feedback(user_id, cursor, limit))

    def iter_user_feedback(
        self, user_id: str, page_size: int = 100
    ) -> AsyncIterator[FeedbackPublic]:
        return self._pages(lambda cursor: api.user_feedback(user_id, cursor, page_size))

    async def item_feedback(
        self, item_id: str, cursor: str | None = None, limit: int = 100
    ) -> Page[FeedbackPublic]:
        return await self.send(api.item_feedback(item_id, cursor, limit))

    def iter_item_feedback(
        self, item_id: str, page_size: int = 100
    ) -> AsyncIterator[FeedbackPublic]:
        return self._pages(lambda cursor: api.item_feedback(item_id, cursor, page_size))

    async def add_relations(
        self, relations: Iterable[RelationCreate | Mapping[str, Any]]
    ) -> WriteResult:
        return await self.send(api.add_relations(relations))

    async def user_relations(self, user_id: str) -> Page[RelationPublic]:
        """Relations with the user on either side (all on one page)."""
        return await self.send(api.user_relations(user_id))

    # recommendations --------------------------------------------------------------------

    async def recommend(
        self,
        user_id: str,
        query: str | None = None,
        llm: api.Llm = None,
        **options: Unpack[ListOptions],
    ) -> LlmListResponse:
        """Top items for a user (scenario ``recommended``); with ``query``, the items most
        relevant to that text, in the order of the user's taste; ``llm``: the LLM stage's
        tasks ("rerank", "explain", "themes", or "off"; docs/language.md)."""
        return await self.send(api.recommend(user_id, options, query=query, llm=llm))

    async def search(
        self,
        q: str,
        *,
        n: int | None = None,
        mode: Literal["hybrid", "words", "meaning"] | None = None,
        category: str | None = None,
        filter: str | None = None,
        user_id: str | None = None,
    ) -> SearchResponse:
        """Items for a text, by their words and their meaning (``GET /v1/search``)."""
        return await self.send(api.search(q, n, mode, category, filter, user_id))

    async def similar_items(self, item_id: str, **options: Unpack[ListOptions]) -> ListResponse:
        return await self.send(api.similar_items(item_id, options))

    async def bought_together(self, item_id: str, **options: Unpack[ListOptions]) -> ListResponse:
        return await self.send(api.bought_together(item_id, options))

    async def because_you_liked(
        self, user_id: str, anchors: int = 3, **options: Unpack[ListOptions]
    ) -> GroupsResponse:
        """Similar items for each of the user's ``anchors`` most recent liked items."""
        return await self.send(api.because_you_liked(user_id, anchors, options))

    async def popular(
        self, user_id: str | None = None, llm: api.Llm = None, **options: Unpack[ListOptions]
    ) -> LlmListResponse:
        return await self.send(api.popular(user_id, options, llm))

    async def trending(
        self, user_id: str | None = None, llm: api.Llm = None, **options: Unpack[ListOptions]
    ) -> LlmListResponse:
        return await self.send(api.trending(user_id, options, llm))

    async def latest(
        self, user_id: str | None = None, llm: api.Llm = None, **options: Unpack[ListOptions]
    ) -> LlmListResponse:
        return await self.send(api.latest(user_id, options, llm))

    async def people_you_may_know(
        self, user_id: str, n: int = 10, offset: int = 0
    ) -> PeopleResponse:
        return await self.send(api.people_you_may_know(user_id, n, offset))

    async def session_recommendations(
        self, session_id: str, **options: Unpack[ListOptions]
    ) -> ListResponse:
        """For an anonymous session, from the events posted with its ``session_id``."""
        return await self.send(api.session_recommendations(session_id, options))

    async def session_items_recommendations(
        self, item_ids: Sequence[str], **options: Unpack[ListOptions]
    ) -> ListResponse:
        """For an anonymous session given as its items, oldest first."""
        return await self.send(api.session_items_recommendations(item_ids, options))

    async def rank(
        self, user_id: str, item_ids: Sequence[str], fields: Sequence[str] | None = None
    ) -> RankResponse:
        """The user's personalised order of ``item_ids`` (unknown ones last); ``fields``
        adds those stored item fields to each entry as ``details``."""
        return await self.send(api.rank(user_id, item_ids, fields))

    # models and scenarios ---------------------------------------------------------------

    async def list_models(self, name: str | None = None) -> ModelList:
        return await self.send(api.list_models(name))

    async def get_model(self, name: str, version: str) -> VersionInfo:
        return await self.send(api.get_model(name, version))

    async def promote(self, name: str, version: str, scenario: str) -> ScenarioInfo:
        """Make ``name/version`` the champion of ``scenario`` (admin)."""
        return await self.send(api.promote(name, version, scenario))

    async def rollback(self, scenario: str) -> ScenarioInfo:
        """Return ``scenario`` to its previous champion (admin)."""
        return await self.send(api.rollback(scenario))

    async def list_scenarios(self) -> ScenarioList:
        return await self.send(api.list_scenarios())

    # training jobs ----------------------------------------------------------------------

    async def train(
        self,
        models: Sequence[str] | None = None,
        scenarios: Sequence[str] | None = None,
        promote: Promote = "if_better",
    ) -> JobStatus:
        """Start a training job (admin); follow it with ``get_job`` or ``wait_for_job``."""
        return await self.send(api.train(models, scenarios, promote))

    async def get_job(self, job_id: str) -> JobStatus:
        return await self.send(api.get_job(job_id))

    async def list_jobs(self, limit: int = 20) -> JobList:
        return await self.send(api.list_jobs(limit))

    async def wait_for_job(
        self,
        job_id: str,
        timeout: float = 600.0,
        poll_interval: float = 0.5,
        on_progress: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        """Poll until the job succeeds and return its final status; ``JobFailed`` if it
        fails, ``JobTimeout`` after ``timeout`` seconds. ``on_progress`` sees every poll."""
        watch = JobWatch(timeout, poll_interval, on_progress, time.monotonic())
        while True:
            job = await self.get_job(job_id)
            wait = watch.next_wait(job, time.monotonic())
            if wait is None:
                return job
            await asyncio.sleep(wait)

    # batch recommendations --------------------------------------------------------------

    async def start_batch(
        self,
        n: int = 10,
        scenario: BatchScenario = "recommended",
        users: Sequence[str] | None = None,
    ) -> BatchJobStatus:
        """Start a batch job (admin): the lists of every user, or of ``users``; poll
        ``get_batch`` until its status is "succeeded", then read ``batch_result``."""
        return await self.send(api.start_batch(n, scenario, users))

    async def get_batch(self, job_id: str) -> BatchJobStatus:
        return await self.send(api.get_batch(job_id))

    async def batch_result(self, job_id: str) -> list[dict[str, Any]]:
        """One dict per user: ``{"user_id", "items": [{"item_id", "score"}], "model", ...}``."""
        return await self.send(api.batch_result(job_id))

    # experiments ------------------------------------------------------------------------

    async def create_experiment(
        self, experiment: ExperimentCreate | Mapping[str, Any]
    ) -> ExperimentInfo:
        """Define an A/B experiment (admin); it runs at once unless ``status`` is "draft"."""
        return await self.send(api.create_experiment(experiment))

    async def list_experiments(self, status: str | None = None, limit: int = 100) -> ExperimentList:
        return await self.send(api.list_experiments(status, limit))

    async def get_experiment(self, experiment_id: str) -> ExperimentDetail:
        """The experiment with its online metrics per variant (CTR, conversion rate)."""
        return await self.send(api.get_experiment(experiment_id))

    async def start_experiment(self, experiment_id: str) -> ExperimentInfo:
        return await self.send(api.start_experiment(experiment_id))

    async def stop_experiment(self, experiment_id: str) -> ExperimentDetail:
        """Stop it (idempotent): the scenario goes back to its champion."""
        return await self.send(api.stop_experiment(experiment_id))

    # operations -------------------------------------------------------------------------

    async def health(self) -> HealthStatus:
        return await self.send(api.health())

    async def ready(self) -> ReadyStatus:
        """Raises ``ServerUnavailable`` (code ``not_ready``) until every scenario is served."""
        return await self.send(api.ready())

    async def metrics(self) -> str:
        """The Prometheus text exposition."""
        return await self.send(api.metrics())
