"""The dashboard's pages (GET): overview, items, users, a user, models, training jobs, import.

Each reads through the same objects the API uses (store, registry, serving engine, job
store) and renders a template; nothing here writes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from recserve.api.deps import EngineDep, RegistryDep, StoreDep, UserIdPath
from recserve.api.errors import ApiError
from recserve.api.routes.jobs import JobIdPath, job_status
from recserve.api.routes.models import known_scenarios
from recserve.dashboard import charts, queries
from recserve.dashboard.auth import AdminDep
from recserve.dashboard.llm_section import llm_section
from recserve.dashboard.render import render
from recserve.dashboard.userpage import titles, user_sections
from recserve.importers import KINDS
from recserve.schemas.jobs import JobStatus

router = APIRouter(include_in_schema=False)

PAGE = 50
SearchQuery = Annotated[str, Query(max_length=200)]
AfterQuery = Annotated[str | None, Query(max_length=256)]
LEADERBOARD_METRIC = "ndcg@10"
METRIC_COLUMNS = ("ndcg@10", "precision@10", "recall@10", "map@10", "hit_rate@10")


@router.get("/", response_class=HTMLResponse)
@router.get("/dashboard", response_class=HTMLResponse)
def overview(request: Request, _: AdminDep, store: StoreDep, engine: EngineDep) -> HTMLResponse:
    series = queries.events_over_time(store)
    recent = queries.recent_events(store, 20)
    return render(
        request,
        "overview.html.j2",
        page="overview",
        counts=store.counts(),
        chart=charts.event_bars(series) if series is not None else None,
        series=series,
        bar=charts.bar_label(series) if series is not None else None,
        recent=recent,
        titles=titles(store, [e["item_id"] for e in recent]),
        served={s: m.ref for s, m in sorted(engine.served().items())},
    )


@router.get("/dashboard/items", response_class=HTMLResponse)
def items_page(
    request: Request, _: AdminDep, store: StoreDep, q: SearchQuery = "", after: AfterQuery = None
) -> HTMLResponse:
    rows, next_after = queries.search_items(store, q.strip(), after, PAGE)
    counts = queries.event_counts(store, "item_id", [r["item_id"] for r in rows])
    return render(
        request,
        "items.html.j2",
        page="items",
        q=q,
        rows=rows,
        counts=counts,
        next_after=next_after,
        total=store.items.count(),
    )


@router.get("/dashboard/users", response_class=HTMLResponse)
def users_page(
    request: Request, _: AdminDep, store: StoreDep, q: SearchQuery = "", after: AfterQuery = None
) -> HTMLResponse:
    rows, next_after = queries.search_users(store, q.strip(), after, PAGE)
    counts = queries.event_counts(store, "user_id", [r["user_id"] for r in rows])
    return render(
        request,
        "users.html.j2",
        page="users",
        q=q,
        rows=rows,
        counts=counts,
        next_after=next_after,
        total=store.users.count(),
    )


@router.get("/dashboard/users/{user_id}", response_class=HTMLResponse)
def user_page(
    request: Request, _: AdminDep, user_id: UserIdPath, store: StoreDep, engine: EngineDep
) -> HTMLResponse:
    user = store.users.get(user_id)
    if user is None:
        return render(
            request,
            "missing.html.j2",
            status_code=404,
            page="users",
            what=f"No user with user_id {user_id!r}.",
        )
    history, _more = store.feedback.for_user(user_id, limit=50)
    sections = user_sections(engine, user_id)
    stage = request.app.state.llm
    if stage is not None:  # the LLM's list beside the plain one
        sections.insert(1, llm_section(stage, engine, store, user_id))
    shown = [e["item_id"] for e in history] + [i for s in sections for i in s.item_ids()]
    return render(
        request,
        "user.html.j2",
        page="users",
        user=user,
        history=history,
        history_total=queries.event_counts(store, "user_id", [user_id]).get(user_id, 0),
        sections=sections,
        titles=titles(store, shown),
    )


def leaderboard(versions: list[Any]) -> list[tuple[str, float]]:
    """The newest evaluated version of each model by the leaderboard metric, best first."""
    newest: dict[str, tuple[str, float]] = {}
    for v in versions:
        value = (v.manifest.get("metrics") or {}).get(LEADERBOARD_METRIC)
        if isinstance(value, int | float):
            newest[v.name] = (v.ref, float(value))
    return sorted(newest.values(), key=lambda row: -row[1])


@router.get("/dashboard/models", response_class=HTMLResponse)
def models_page(
    request: Request, _: AdminDep, registry: RegistryDep, engine: EngineDep
) -> HTMLResponse:
    versions = registry.list_versions()
    champions = registry.champions()
    history = registry.history()
    served = engine.served()
    board = leaderboard(versions)
    scenarios = list(dict.fromkeys([*known_scenarios(), *champions]))
    return render(
        request,
        "models.html.j2",
        page="models",
        versions=sorted(
            sorted(versions, key=lambda v: v.version, reverse=True), key=lambda v: v.name
        ),  # by name, newest version first
        champions=champions,
        champion_of={
            v.ref: sorted(s for s, r in champions.items() if r == v.ref) for v in versions
        },
        scenarios=scenarios,
        rows=[
            {
                "scenario": s,
                "champion": champions.get(s),
                "serving": served[s].ref if s in served else None,
                "history": history.get(s, []),
            }
            for s in scenarios
        ],
        board_chart=charts.metric_bars(board, LEADERBOARD_METRIC) if board else None,
        metric=LEADERBOARD_METRIC,
        metric_columns=METRIC_COLUMNS,
    )


@router.get("/dashboard/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, _: AdminDep, store: StoreDep) -> HTMLResponse:
    from recserve.training.pipeline import DEFAULT_MODELS, OPTIONAL_MODELS

    return render(
        request,
        "jobs.html.j2",
        page="jobs",
        jobs=[job_status(row) for row in store.jobs.recent(30)],
        model_names=[*DEFAULT_MODELS, *OPTIONAL_MODELS],
    )


@router.get("/dashboard/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: JobIdPath, _: AdminDep, store: StoreDep) -> HTMLResponse:
    """One job: its request, the model search's trials as a table and a plot, the models."""
    row = store.jobs.get(job_id)
    if row is None:
        return render(
            request,
            "missing.html.j2",
            status_code=404,
            page="jobs",
            what=f"No training job with id {job_id!r}.",
        )
    job = job_status(row)
    search = job.results.get("search") or {}
    trials = search.get("trials") or []
    return render(
        request,
        "job.html.j2",
        page="jobs",
        job=job,
        search=search,
        trials=trials,
        trial_chart=charts.trial_scatter(trials, LEADERBOARD_METRIC) if trials else None,
        metric=LEADERBOARD_METRIC,
    )


@router.get("/dashboard/jobs/{job_id}/status", response_model=JobStatus)
def job_progress(job_id: JobIdPath, _: AdminDep, store: StoreDep) -> JobStatus:
    """The job as ``GET /v1/jobs/{id}`` answers it, for the page's polling script (which
    holds the dashboard cookie, not an API key)."""
    row = store.jobs.get(job_id)
    if row is None:
        raise ApiError(404, "job_not_found", f"no training job with id {job_id!r}")
    return job_status(row)


@router.get("/dashboard/import", response_class=HTMLResponse)
def import_page(request: Request, _: AdminDep, store: StoreDep) -> HTMLResponse:
    return render(
        request, "import.html.j2", page="import", kinds=KINDS, counts=store.counts(), report=None,
        problems=None, error=None,
    )  # fmt: skip
