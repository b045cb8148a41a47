"""Every endpoint through both ``Client`` and ``AsyncClient`` against one live server.

The server is seeded and trained once for the module (a small shop with three taste
blocks: ``tests/client/world.py``); each test then runs twice, once per client, and the
last test checks against the server's own OpenAPI document that both clients called every
operation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recserve.client import NotFound, ServerUnavailable, ValidationFailed
from recserve.client.models import (
    ExperimentCreate,
    FeedbackCreate,
    ItemCreate,
    ItemUpdate,
    JobStatus,
    UserCreate,
    UserUpdate,
    VariantBody,
)
from tests.client import world
from tests.client.helpers import Calls, client_factory, recserve_server, uncovered


def block(item: str) -> int:
    return world.block_of_item(item)


def ids(response: Any) -> list[str]:
    return [entry.item_id for entry in response.items]


U00_SEEN = {"i00", "i01", "i02", "i03", "i08"}  # liked (block 0) and disliked (block 1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with recserve_server(Path(tmp_path_factory.mktemp("client-endpoints"))) as base:
        yield base


@pytest.fixture(scope="module")
def calls() -> dict[str, Calls]:
    return {}


def _serves(client: Any, scenario: str) -> bool:
    try:
        return scenario in client.ready().models
    except ServerUnavailable:  # not every required scenario is swapped in yet
        return False


@pytest.fixture(scope="module")
def trained(server: str, calls: dict[str, Calls]) -> Iterator[JobStatus]:
    """The world stored and the default models trained, by the sync client (its calls
    count: the async client makes them in the tests)."""
    opened: list[Any] = []
    client = client_factory("sync", server, calls, opened)()
    assert client.upsert_items(world.items()).accepted == len(world.items())
    assert client.upsert_users(world.users()).accepted == len(world.users())
    assert client.add_feedback(world.events()).accepted == len(world.events())
    assert client.add_relations(world.relations()).accepted == len(world.relations())
    job = client.train()
    seen: list[JobStatus] = []
    done = client.wait_for_job(job.job_id, timeout=180, poll_interval=0.2, on_progress=seen.append)
    assert done.status == "succeeded" and seen[-1] == done
    deadline = time.monotonic() + 30
    while not _serves(client, "people_you_may_know"):  # the server swaps the champions in
        assert time.monotonic() < deadline  # when its job monitor sees the worker end
        time.sleep(0.1)
    yield done
    client.close()


@pytest.fixture(params=["sync", "async"])
def make(
    request: pytest.FixtureRequest, server: str, calls: dict[str, Calls], trained: JobStatus
) -> Iterator[Callable[..., Any]]:
    opened: list[Any] = []
    yield client_factory(request.param, server, calls, opened)
    for client in opened:
        client.close()


# operations ---------------------------------------------------------------------------------


def test_health_ready_and_metrics(make: Callable[..., Any]) -> None:
    api = make(None)  # the probes and /metrics need no key
    assert api.health().status == "ok"
    ready = api.ready()
    assert ready.status == "ready" and ready.database
    assert {"recommended", "similar_items", "popular"} <= set(ready.models)
    text = api.metrics()
    assert 'recserve_events_ingested_total{outcome="stored"}' in text
    assert "recserve_http_request_duration_seconds_bucket" in text


# items and users ----------------------------------------------------------------------------


def test_items_crud_and_paging(make: Callable[..., Any]) -> None:
    api = make()
    every = [item["item_id"] for item in world.items()]
    first = api.list_items(limit=5)
    assert [i.item_id for i in first.data] == every[:5] and first.count == 5
    assert first.next_cursor is not None
    second = api.list_items(cursor=first.next_cursor, limit=5)
    assert [i.item_id for i in second.data] == every[5:10]
    assert [i.item_id for i in api.iter_items(page_size=7)] == every  # 4 pages

    odd = f"tmp {api.kind} é?#&"  # every character that needs escaping in a path
    created = api.upsert_items(
        [ItemCreate(item_id=odd, title="temp", categories=["x"], attributes={"price": 3})]
    )
    assert created.accepted == 1
    got = api.get_item(odd)
    assert (got.item_id, got.title, got.categories, got.attributes) == (
        odd,
        "temp",
        ["x"],
        {"price": 3},
    )
    changed = api.update_item(odd, ItemUpdate(title="renamed"))
    assert changed.title == "renamed" and changed.categories == ["x"]
    assert api.update_item(odd, {"categories": None, "hidden": True}).categories == []
    assert api.get_item(odd).hidden
    api.delete_item(odd)
    with pytest.raises(NotFound) as missing:
        api.get_item(odd)
    assert missing.value.code == "item_not_found" and missing.value.status == 404


def test_users_crud_export_and_delete(make: Callable[..., Any]) -> None:
    api = make()
    every = [user["user_id"] for user in world.users()]
    page = api.list_users(limit=4)
    assert [u.user_id for u in page.data] == every[:4] and page.next_cursor
    assert [u.user_id for u in api.iter_users(page_size=5)] == every

    temp = f"tmp-{api.kind}"
    assert api.upsert_users([UserCreate(user_id=temp, tags=["new"])]).accepted == 1
    assert api.get_user(temp).tags == ["new"]
    updated = api.update_user(temp, UserUpdate(attributes={"age": 30}))
    assert updated.attributes == {"age": 30} and updated.tags == ["new"]
    api.add_feedback(
        [
            {"user_id": temp, "item_id": "i01", "type": "like", "timestamp": world.START},
            {"user_id": temp, "item_id": "i02", "type": "view", "timestamp": world.START + 1},
        ]
    )
    export = api.export_user(temp)
    assert export.user.user_id == temp and export.event_count == 2
    assert [e.item_id for e in export.events] == ["i02", "i01"]  # newest first
    assert export.models.versions == []  # stored after every model's snapshot
    assert any(v["contains_user"] for v in api.export_user("u00").models.versions)
    api.delete_user(temp)
    with pytest.raises(NotFound) as missing:
        api.get_user(temp)
    assert missing.value.code == "user_not_found"


# feedback and relations ---------------------------------------------------------------------


def test_feedback_batches_and_listings(make: Callable[..., Any]) -> None:
    api = make()
    user = f"fb-{api.kind}"
    events = [
        FeedbackCreate(
            user_id=user, item_id="i00", type="view", event_id=f"{user}-{k}", timestamp=1e9 + k
        )
        for k in range(5)
    ]
    assert api.add_feedback(events).accepted == 5
    again = api.add_feedback(events)  # idempotent on event_id
    assert (again.accepted, again.duplicates) == (0, 5)

    page = api.user_feedback(user, limit=2)
    assert page.count == 2 and page.next_cursor is not None
    assert [e.event_id for e in page.data] == [f"{user}-4", f"{user}-3"]
    listed = [e.event_id for e in api.iter_user_feedback(user, page_size=2)]
    assert listed == [f"{user}-{k}" for k in reversed(range(5))]

    assert api.item_feedback("i00", limit=3).count == 3
    on_item = list(api.iter_item_feedback("i00", page_size=10))
    assert {f"{user}-{k}" for k in range(5)} <= {e.event_id for e in on_item}
    assert {e.user_id for e in on_item} >= {"u00", user}
    api.delete_user(user)


def test_relations(make: Callable[..., Any]) -> None:
    api = make()
    again = api.add_relations([{"user_id": "u00", "other_user_id": "u01"}])
    assert (again.accepted, again.duplicates) == (0, 1)
    a, b = f"rel-{api.kind}-a", f"rel-{api.kind}-b"
    assert api.add_relations([{"user_id": a, "other_user_id": b, "type": "follow"}]).accepted == 1
    related = api.user_relations(b).data
    assert [(r.user_id, r.other_user_id, r.type) for r in related] == [(a, b, "follow")]
    api.delete_user(a)
    api.delete_user(b)


# recommendations ----------------------------------------------------------------------------


def test_recommendations_with_every_list_parameter(make: Callable[..., Any]) -> None:
    api = make(world.READ_KEY)
    top = api.recommend("u00", n=4)
    assert top.user_id == "u00" and top.recommendation_id and "/" in top.model
    assert len(top.items) == 4 and all(block(i) == 0 for i in ids(top))
    assert not set(ids(top)) & U00_SEEN  # exclude_seen is on by default

    page = api.recommend("u00", n=2, offset=2)
    assert page.offset == 2 and ids(page) == ids(top)[2:]
    assert all(block(i) == 2 for i in ids(api.recommend("u00", n=3, category="block-2")))
    cheap = api.recommend("u00", n=5, filter="price < 10")  # items i00..i04 cost 5..9
    assert ids(cheap) == ["i04"]
    allowed = api.recommend("u00", n=5, include=["i05", "i17", "i00"])
    assert set(ids(allowed)) <= {"i05", "i17"} and "i05" in ids(allowed)
    assert not set(ids(api.recommend("u00", n=3, exclude=ids(top)[:2]))) & set(ids(top)[:2])
    pinned = api.recommend("u00", n=3, pins={"i20": 1})
    assert ids(pinned)[0] == "i20" and pinned.items[0].pinned
    assert ids(api.recommend("u00", n=3, pins=[("i21", 2)]))[1] == "i21"
    explained = api.recommend("u00", n=2, explain=True)
    assert all(e.explanation is not None and e.explanation.reason for e in explained.items)
    assert ids(api.recommend("u00", n=2, include=["i00"], exclude_seen=False)) == ["i00"]
    empty = api.recommend("u00", n=2, include=["i00"])
    assert ids(empty) == [] and empty.reason == "filtered"
    assert len(api.recommend("u00", n=4, diversity=1.0).items) == 4
    described = api.recommend("u00", n=3, fields=["title", "categories"])
    assert all(e.details is not None for e in described.items)
    assert [(e.details.title, e.details.categories) for e in described.items] == [
        (f"item {int(i[1:])}", ["block-0"]) for i in ids(described)
    ]
    assert (
        described.items[0].details.model_dump()
        == {  # only the named fields
            "title": f"item {int(ids(described)[0][1:])}",
            "categories": ["block-0"],
        }
    )
    assert top.items[0].details is None and top.reason is None
    with pytest.raises(ValidationFailed) as unknown:
        api.recommend("u00", fields=["title", "price"])
    assert unknown.value.code == "invalid_fields"
    with pytest.raises(TypeError, match="colour"):
        api.recommend("u00", colour="red")


def test_search_and_recommendations_about_a_query(make: Callable[..., Any]) -> None:
    api = make()
    found = api.search("item 7", n=3, mode="words")
    assert found.query == "item 7" and found.items[0].item_id == "i07"
    assert found.items[0].title == "item 7" and found.items[0].lexical_rank == 1
    in_block = api.search("item", n=5, mode="words", category="block-2")
    assert in_block.items and all(block(h.item_id) == 2 for h in in_block.items)
    cheap = api.search("item", n=20, mode="words", filter="price < 10", user_id="u00")
    assert ids(cheap) and set(ids(cheap)) <= {"i00", "i01", "i02", "i03", "i04"}
    about = api.recommend("u00", query="item", n=3)
    assert len(about.items) == 3 and not set(ids(about)) & U00_SEEN
    with pytest.raises(ValidationFailed) as empty:
        api.search(" ")
    assert empty.value.code == "invalid_query"


def test_llm_tasks_without_an_llm(make: Callable[..., Any]) -> None:
    """This server has no llm_url: asking for an LLM task or enrichment is a clear 400
    (the LLM stage itself: tests/llm/test_python_client.py)."""
    api = make(world.ADMIN_KEY)
    assert api.recommend("u00", llm="off", n=2).llm is None
    for call in (
        lambda: api.recommend("u00", llm=["rerank", "explain"]),
        lambda: api.popular(llm="themes"),
        lambda: api.enrich_items(),
    ):
        with pytest.raises(ValidationFailed) as refused:
            call()
        assert refused.value.code == "llm_not_configured"


def test_item_lists(make: Callable[..., Any]) -> None:
    api = make(world.READ_KEY)
    similar = api.similar_items("i00", n=3)
    assert similar.item_id == "i00" and len(similar.items) == 3
    assert all(block(i) == 0 for i in ids(similar)) and "i00" not in ids(similar)
    together = api.bought_together("i09", n=3)
    assert together.item_id == "i09" and ids(together) and all(block(i) == 1 for i in ids(together))
    popular = api.popular(n=5)
    assert len(popular.items) == 5 and popular.model.startswith("popular/")
    assert not set(ids(api.popular(user_id="u00", n=20))) & U00_SEEN
    trending = api.trending(n=3, explain=True)
    assert len(trending.items) == 3 and trending.items[0].explanation is not None
    assert ids(api.latest(n=3)) == ["i23", "i22", "i21"]  # published_at grows with the id
    for listed in (
        api.similar_items("i00", n=2, fields="tags"),
        api.bought_together("i09", n=2, fields=["tags"]),
        api.popular(n=2, fields=["tags"]),
        api.trending(n=2, fields=["tags"]),
        api.latest(n=2, fields=["tags"]),
    ):
        assert [e.details.model_dump() for e in listed.items] == [{"tags": []}] * 2
    assert ids(api.latest(n=2, category="block-0")) == ["i07", "i06"]


def test_personal_scenarios(make: Callable[..., Any]) -> None:
    api = make()  # POST /sessions/recommendations and /rank need the write scope
    groups = api.because_you_liked("u00", anchors=2, n=2)
    assert groups.user_id == "u00" and 1 <= len(groups.groups) <= 2
    assert {g.anchor_item_id for g in groups.groups} <= U00_SEEN
    assert all(block(i.item_id) == 0 for g in groups.groups for i in g.items)

    people = api.people_you_may_know("u00", n=3)
    found = [u.user_id for u in people.users]
    assert found[0] == "u02" and not {"u00", "u01"} & set(found)  # a friend's friend
    assert [u.user_id for u in api.people_you_may_know("u00", n=2, offset=1).users] == found[1:3]

    session = api.session_recommendations("s-u00", n=3)
    assert session.session_id == "s-u00" and len(session.items) == 3
    assert all(block(i) == 0 for i in ids(session)) and not set(ids(session)) & U00_SEEN
    posted = api.session_items_recommendations(["i08", "i09"], n=3)
    assert ids(posted) and all(block(i) == 1 for i in ids(posted))
    assert not {"i08", "i09"} & set(ids(posted))

    ranked = api.rank("u00", ["i20", "nope", "i05"])
    assert [r.item_id for r in ranked.items] == ["i05", "i20", "nope"]
    assert ranked.items[-1].score is None and ranked.items[0].score is not None
    titled = api.rank("u00", ["i20", "nope", "i05"], fields=["title"])
    assert [r.details.title if r.details else None for r in titled.items] == [
        "item 5",
        "item 20",
        None,
    ]
    described = api.because_you_liked("u00", anchors=1, n=2, fields=["attributes"])
    assert all(i.details is not None for g in described.groups for i in g.items)
    assert api.because_you_liked("nobody-here", n=2).reason == "no_history"


# models, scenarios, jobs and experiments ----------------------------------------------------


def _other_candidate(api: Any, champion: str) -> str:
    """A version of another model trained for ``recommended`` (ease or item_knn)."""
    versions = api.list_models().versions
    return next(v.ref for v in versions if v.name in ("ease", "item_knn") and v.ref != champion)


def test_models_promote_and_rollback(make: Callable[..., Any], trained: JobStatus) -> None:
    api = make()
    models = api.list_models()
    champion = models.champions["recommended"]
    assert champion == trained.results["scenarios"]["recommended"]["champion_after"]
    knn = api.list_models(name="item_knn").versions
    assert knn and all(v.name == "item_knn" for v in knn)
    info = api.get_model(*champion.split("/"))
    assert info.ref == champion and "recommended" in info.champion_of and info.metrics
    scenarios = {s.scenario: s for s in api.list_scenarios().data}
    assert scenarios["recommended"].champion == champion
    assert scenarios["recommended"].serving == champion

    other = _other_candidate(api, champion)
    promoted = api.promote(*other.split("/"), scenario="recommended")
    assert promoted.champion == other and promoted.serving == other
    assert promoted.history[-1] == champion
    assert api.recommend("u00", n=2).model == other  # swapped in on this replica at once
    back = api.rollback("recommended")
    assert back.champion == champion and back.serving == champion


def test_training_jobs(server: str, calls: dict[str, Calls], trained: JobStatus) -> None:
    """One job for both clients (a job takes seconds): async starts it, sync follows it."""
    opened: list[Any] = []
    sync, aio = (client_factory(kind, server, calls, opened)() for kind in ("sync", "async"))
    try:
        job = aio.train(models=["popular"], promote="never")
        assert job.status == "queued" and job.trigger == "api"
        assert job.request["promote"] == "never"
        seen: list[JobStatus] = []
        done = sync.wait_for_job(
            job.job_id, timeout=120, poll_interval=0.2, on_progress=seen.append
        )
        assert done.status == "succeeded" and done.progress == 1.0
        assert seen[-1] == done and seen[0].status in ("queued", "running")
        assert done.results["models"]["popular"]["promoted_to"] == []
        assert aio.wait_for_job(job.job_id, timeout=5) == done
        for api in (sync, aio):
            assert api.get_job(job.job_id).finished_at is not None
            assert [j.job_id for j in api.list_jobs(limit=2).data] == [job.job_id, trained.job_id]
    finally:
        for client in opened:
            client.close()


def test_batch_recommendations(make: Callable[..., Any]) -> None:
    api = make()
    job = api.start_batch(n=3, users=["u00", "ghost", "u01"])
    assert job.status in ("queued", "running", "succeeded") and job.request["n"] == 3
    deadline = time.monotonic() + 60
    while (done := api.get_batch(job.job_id)).status in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert done.status == "succeeded" and done.results["unknown_user_ids"] == ["ghost"]
    lines = api.batch_result(job.job_id)
    assert [line["user_id"] for line in lines] == ["u00", "u01"]
    for line in lines:
        answer = api.recommend(line["user_id"], n=3)
        assert [i["item_id"] for i in line["items"]] == ids(answer)
        assert line["model"] == answer.model


def test_experiments(make: Callable[..., Any]) -> None:
    api = make()
    experiment_id = f"exp-{api.kind}"
    champion = api.list_models().champions["recommended"]
    created = api.create_experiment(
        ExperimentCreate(
            experiment_id=experiment_id,
            status="draft",
            variants=[
                VariantBody(name="control", share=0.5),
                VariantBody(name="treatment", share=0.5, model=_other_candidate(api, champion)),
            ],
        )
    )
    assert created.status == "draft" and [v.name for v in created.variants] == [
        "control",
        "treatment",
    ]
    assert api.start_experiment(experiment_id).status == "running"
    assert experiment_id in [e.experiment_id for e in api.list_experiments(status="running").data]

    users = [user["user_id"] for user in world.users()]
    served = {user: api.recommend(user, n=2) for user in users}
    assert {r.experiment for r in served.values()} == {experiment_id}
    assert {r.variant for r in served.values()} == {"control", "treatment"}
    clicks = [
        {
            "user_id": u,
            "item_id": r.items[0].item_id,
            "type": "click",
            "recommendation_id": r.recommendation_id,
        }
        for u, r in served.items()
    ]
    api.add_feedback(clicks)
    detail = api.get_experiment(experiment_id)
    metrics = {v.variant: v for v in detail.metrics.variants}
    assert sum(v.impressions for v in metrics.values()) == len(users)
    assert sum(v.clicked_lists for v in metrics.values()) == len(users)
    stopped = api.stop_experiment(experiment_id)
    assert stopped.status == "stopped" and stopped.stopped_at is not None
    assert api.recommend("u00", n=2).experiment is None


# docs ------------------------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"


def test_the_docs_examples_run_as_written(server: str) -> None:
    """docs/client.md's Python blocks, pointed at this server instead of port 8000."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 3
    for source in blocks:
        code = source.replace("http://127.0.0.1:8000", server)
        code = code.replace("admin-key-0001", world.ADMIN_KEY)
        exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})


# coverage -----------------------------------------------------------------------------------


def test_both_clients_called_every_operation(server: str, calls: dict[str, Calls]) -> None:
    """Runs last: each operation of the live OpenAPI document was sent by each client."""
    openapi = httpx.get(f"{server}/openapi.json", timeout=10).json()
    assert set(calls) == {"sync", "async"}, "run the whole module"
    for kind, sent in calls.items():
        assert uncovered(openapi, sent) == [], kind
