"""The ``recserve`` command line: serve, import, train, demo, recommend, dump, restore.

Settings come from ``RECSERVE_*`` environment variables (and ``RECSERVE_CONFIG_FILE``);
``--data-dir`` and ``--database-url`` override them for one command.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from recserve.config import ConfigError, Settings, load_settings
from recserve.preflight import PreflightError, check_data_exists, check_port_free

if TYPE_CHECKING:
    from recserve.data import Dataset
    from recserve.evaluation.leaderboard import Leaderboard
    from recserve.evaluation.llm_rerank import LlmRerankComparison
    from recserve.store import Store


def _settings(ctx: click.Context) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in ctx.obj.items() if v is not None}
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _open_store(settings: Settings) -> Store:
    from recserve.store import Store

    return Store.open(settings.resolved_database_url)


def _require_data(settings: Settings, *, registry: bool = False) -> None:
    """For a command that only reads: stop with a clear message (exit 1) when the data
    directory or the store is not there, rather than create an empty one."""
    try:
        check_data_exists(settings, registry=registry)
    except PreflightError as exc:
        raise click.ClickException(str(exc)) from exc


def _require_free_port(host: str, port: int) -> None:
    """Before any work: stop with a clear message (exit 1) when the port is taken."""
    try:
        check_port_free(host, port)
    except PreflightError as exc:
        raise click.ClickException(str(exc)) from exc


F = TypeVar("F", bound=Callable[..., Any])


def _set_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A global option given after the subcommand: it overrides the one given before."""
    if value is None or value is False:
        return
    if param.name == "verbose":
        logging.getLogger().setLevel(logging.DEBUG)
        return
    ctx.ensure_object(dict)[str(param.name)] = value


def _global_options(command: F, *, after: bool) -> F:
    """``--data-dir``, ``--database-url`` and ``-v``: on the group, and (``after``) again on
    each subcommand, so both ``recserve --data-dir D demo`` and ``recserve demo
    --data-dir D`` work and every subcommand's --help lists them."""
    extra: dict[str, Any] = {"expose_value": False, "callback": _set_global} if after else {}
    options = [
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Data directory (RECSERVE_DATA_DIR); default .data (demo: .data/demo).",
            **extra,
        ),
        click.option(
            "--database-url",
            help="SQLAlchemy URL (RECSERVE_DATABASE_URL); default SQLite in the data dir.",
            **extra,
        ),
        click.option("-v", "--verbose", is_flag=True, help="Debug logging.", **extra),
    ]
    # a decorator appends to a Command's params but prepends to a function's
    for option in options if isinstance(command, click.Command) else reversed(options):
        command = option(command)
    return command


def _options_before_the_command(main: F) -> F:
    return _global_options(main, after=False)


class _ListingOption(click.Option):
    """An option whose help ends with a list computed only when help is shown (the model
    registry imports every model module: too slow for every command's start)."""

    def __init__(self, *args: Any, listing: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listing = listing
        self.base_help = self.help or ""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = f"{self.base_help} {self.listing()}"
        return super().get_help_record(ctx)


def _model_names() -> str:
    from recserve.training.pipeline import DEFAULT_MODELS, OPTIONAL_MODELS

    return (
        f"Default models: {', '.join(DEFAULT_MODELS)}; on request: {', '.join(OPTIONAL_MODELS)}; "
        f"families: {_family_names()}"
    )


def _family_names() -> str:
    from recserve.algorithms import FAMILIES

    return ", ".join(sorted(FAMILIES))


class _Commands(click.Group):
    """The ``recserve`` group: every subcommand added to it also takes the global options."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _global_options(cmd, after=True)
        super().add_command(cmd, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="recserve")
@_options_before_the_command
@click.pass_context
def main(
    ctx: click.Context, data_dir: Path | None, database_url: str | None, verbose: bool
) -> None:
    """recserve: recommendation models served as a service.

    The options also work after the command name: recserve demo --data-dir D.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # a line per CPU variant tried
    ctx.obj = {"data_dir": data_dir, "database_url": database_url}


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="API processes sharing the port (uvicorn workers); with more than one, set "
    "RECSERVE_REDIS_URL so they share champions, counters and rate limits (docs/scaling.md).",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the REST API (OpenAPI docs at /docs). A data directory without data is fine:
    the service starts empty and fills through the API."""
    settings = _settings(ctx)
    _require_free_port(host, port)
    _run_server(settings, host, port, workers)


def worker_app() -> Any:
    """The app of one ``serve --workers N`` process: settings from the environment, which
    ``serve`` filled with its command-line overrides before starting the workers."""
    from recserve.api.app import create_app

    return create_app(load_settings())


def _run_server(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import os

    import uvicorn

    from recserve.observability import configure_logging

    # before uvicorn starts, so its own first lines follow the configured format too
    configure_logging(settings.log_format, settings.log_level)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": False,  # the metrics middleware writes one access line per request
        "log_config": None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
    }
    if workers == 1:
        from recserve.api.app import create_app

        uvicorn.run(create_app(settings), **options)
        return
    if not settings.redis_url:
        logging.getLogger("recserve.cli").warning(
            "%d workers without redis_url: each keeps its own live counters and rate limits, "
            "and sees promotions made through another only at its next model poll",
            workers,
        )
    # the workers are new processes that load the settings themselves: hand them the
    # command-line overrides through the environment (this supervising process never
    # imports the app: it only starts, watches and stops the workers)
    os.environ["RECSERVE_DATA_DIR"] = str(settings.data_dir)
    os.environ["RECSERVE_DATABASE_URL"] = settings.resolved_database_url
    uvicorn.run("recserve.cli:worker_app", factory=True, workers=workers, **options)


@main.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "movielens-100k", "movielens-latest-small", "lastfm-2k"]),
    help="Layout of SOURCE; detected from the file name or folder contents when left out.",
)
@click.option(
    "--kind",
    type=click.Choice(["events", "items", "users", "relations"]),
    help="What a generic CSV/JSONL file holds; guessed from its columns when left out.",
)
@click.pass_context
def import_(ctx: click.Context, source: Path, fmt: str | None, kind: str | None) -> None:
    """Import a CSV/JSONL file or a MovieLens / Last.fm folder into the store."""
    from recserve.importers import ImportFailed, import_source

    settings = _settings(ctx)
    store = _open_store(settings)
    try:
        report = import_source(
            store,
            source,
            format=fmt,
            kind=kind,
            feedback_types=settings.feedback_types,
            progress=True,
        )
    except ImportFailed as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"imported {report}")
    click.echo(f"store now holds {_open_store(settings).counts()}")


@main.command()
@click.option(
    "--models",
    cls=_ListingOption,
    listing=lambda: _model_names() + ".",
    help="Comma-separated default model names or families to train; default: the default models.",
)
@click.option(
    "--promote",
    type=click.Choice(["if_better", "always", "never"]),
    default="if_better",
    show_default=True,
    help="if_better: only when a model beats the scenario's champion on the same holdout "
    "(a scenario without a champion always gets one).",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds for the model search and holdout check; default: train_budget_seconds.",
)
@click.option(
    "--families",
    help="Comma-separated families the model search tries; default: every one that applies.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="spark: train ALS with Spark MLlib on RECSERVE_SPARK_MASTER (docs/spark.md).",
)
@click.option(
    "--from-parquet",
    type=click.Path(exists=True, path_type=Path),
    help="With --engine spark: train on this Parquet export of events, not the store.",
)
@click.pass_context
def train(
    ctx: click.Context,
    models: str | None,
    promote: str,
    engine: str = "local",
    from_parquet: Path | None = None,
    budget: float | None = None,
    families: str | None = None,
) -> None:
    """Search the model families for the recommended scenario within a time budget, train
    the default models of the other scenarios, evaluate them on a holdout and promote the
    ones that beat their scenario's champion (the same job as POST /v1/models/train, run
    here synchronously and recorded at /v1/jobs). Prints every trial of the search."""
    if engine == "spark":
        if models:
            raise click.UsageError("--models applies to --engine local; spark trains ALS")
        _train_spark(ctx, promote, from_parquet)
        return
    if from_parquet is not None:
        raise click.UsageError("--from-parquet needs --engine spark")
    from recserve.algorithms import FAMILIES
    from recserve.registry import ModelRegistry
    from recserve.training.jobs import execute_job
    from recserve.training.pipeline import select_models
    from recserve.training.request import TrainingRequest
    from recserve.training.search_report import format_search

    wanted = [m.strip() for m in models.split(",") if m.strip()] if models else None
    searched = [f.strip() for f in families.split(",") if f.strip()] if families else None
    try:
        select_models(wanted)
        unknown = sorted(set(searched or []) - set(FAMILIES))
        if unknown:
            raise ValueError(f"unknown families {unknown}; known: {sorted(FAMILIES)}")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    settings = _settings(ctx)
    _require_data(settings)  # training reads the store: a missing one holds nothing to learn
    store = _open_store(settings)
    try:
        request = TrainingRequest(
            models=None if wanted is None else tuple(wanted),
            promote=promote,  # type: ignore[arg-type]
            budget_seconds=budget or settings.train_budget_seconds,
            families=None if searched is None else tuple(searched),
        )
        job = store.jobs.create(request.to_dict(), trigger="cli")
        with click.progressbar(length=1000, label="training", show_pos=False) as bar:

            def progress(fraction: float, step: str) -> None:
                bar.label = step
                bar.update(max(int(fraction * 1000) - bar.pos, 0))

            results = execute_job(
                store,
                ModelRegistry(settings.models_dir),
                settings.feedback_types,
                job["job_id"],
                progress=progress,
            )
            if results is not None:
                bar.update(1000 - bar.pos)
        if results is None:
            failed = store.jobs.get(job["job_id"]) or {}
            raise click.ClickException(f"training failed: {failed.get('error')}")
    finally:
        store.close()
    click.echo(f"snapshot: {results['data']} in {results['snapshot_seconds']:.2f}s")
    click.echo(f"holdout: {results['split']['name']} {results['split']['params']}")
    if results.get("search"):
        click.echo(format_search(results["search"]))
    for name, info in results["models"].items():
        ndcg = info["metrics"].get("ndcg@10", float("nan"))
        promoted = ", ".join(info["promoted_to"]) or "nothing"
        click.echo(
            f"  {name}: {info['version']} fitted in {info['fit_seconds']:.2f}s, "
            f"ndcg@10 {ndcg:.4f}, promoted to {promoted}"
        )
        for scenario, reason in info["not_promoted"].items():
            click.echo(f"      not {scenario}: {reason}")


def _train_spark(ctx: click.Context, promote: str, from_parquet: Path | None) -> None:
    """``train --engine spark``: ALS on Spark, recorded as a job like a local run."""
    import os

    from recserve.registry import ModelRegistry
    from recserve.training.spark_als import ExportError, SparkUnavailable, run_spark_training

    settings = _settings(ctx)
    store = _open_store(settings)
    try:
        request = {"engine": "spark", "promote": promote, "from_parquet": str(from_parquet or "")}
        job = store.jobs.create(request, trigger="cli")
        store.jobs.start(job["job_id"], os.getpid())

        def progress(fraction: float, step: str) -> None:
            store.jobs.update(job["job_id"], progress=round(fraction, 4), step=step)
            click.echo(f"  {step} ...", err=True)

        try:
            results = run_spark_training(
                ModelRegistry(settings.models_dir),
                settings.feedback_types,
                store=None if from_parquet else store,
                parquet=from_parquet,
                master=settings.spark_master,
                promote=promote,  # type: ignore[arg-type]
                work_dir=settings.data_dir / "spark",
                progress=progress,
            )
        except (ValueError, SparkUnavailable) as exc:  # ExportError is a ValueError
            store.jobs.fail(job["job_id"], str(exc))
            kind = "bad export" if isinstance(exc, ExportError) else "training failed"
            raise click.ClickException(f"{kind}: {exc}") from exc
        store.jobs.finish(job["job_id"], results)
    finally:
        store.close()
    spark = results["engine"]
    click.echo(f"engine: spark {spark['spark_version']} on {spark['master']}")
    click.echo(f"snapshot: {results['data']} in {results['snapshot_seconds']:.2f}s")
    click.echo(f"holdout: {results['split']['name']} {results['split']['params']}")
    for name, info in results["models"].items():
        promoted = ", ".join(info["promoted_to"]) or "nothing"
        click.echo(
            f"  {name}: {info['version']} fitted in {info['fit_seconds']:.2f}s, "
            f"ndcg@10 {info['metrics']['ndcg@10']:.4f}, promoted to {promoted}"
        )
        for scenario, reason in info["not_promoted"].items():
            click.echo(f"      not {scenario}: {reason}")


DEMO_BUDGET_SECONDS = 60.0  # the demo's first search: about a minute, not the default's two


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--users", "n_users", default=1000, show_default=True, type=int)
@click.option("--items", "n_items", default=2000, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--no-serve",
    is_flag=True,
    help="Generate, import and run the training job (the model search) here, then exit.",
)
@click.pass_context
def demo(
    ctx: click.Context, host: str, port: int, n_users: int, n_items: int, seed: int, no_serve: bool
) -> None:
    """Generate the demo data set (first run only), fit the default models in seconds and
    serve them; the server then runs the first training job (the model search, with a
    60 s budget unless train_budget_seconds is set) in the background and swaps its
    champion in when it is done. With --no-serve the training job runs here instead."""
    from recserve.demo import load_demo
    from recserve.registry import ModelRegistry
    from recserve.training import train_default_models

    if ctx.obj.get("data_dir") is None:
        ctx.obj["data_dir"] = Path(".data/demo")
    if not no_serve:
        _require_free_port(host, port)  # before generating data and training, not after
    settings = _settings(ctx)
    store = _open_store(settings)
    try:
        if store.feedback.count() == 0:
            click.echo(f"generating demo data ({n_users} users, {n_items} items, seed {seed}) ...")
            report = load_demo(store, seed=seed, n_users=n_users, n_items=n_items)
            click.echo(f"imported {report}")
        else:
            click.echo(f"using the existing demo data in {settings.data_dir}: {store.counts()}")
        registry = ModelRegistry(settings.models_dir)
        if not no_serve and not registry.champions():
            click.echo("fitting the default models (seconds) ...")
            train_default_models(store, registry, settings.feedback_types)
    finally:
        store.close()
    budget = None if "train_budget_seconds" in settings.model_fields_set else DEMO_BUDGET_SECONDS
    if no_serve:
        ctx.invoke(train, budget=budget)
    some_user = _first_user(settings)
    base = f"http://{host}:{port}"
    click.echo("")
    click.echo(f"recserve demo at {base}  (API docs: {base}/docs)")
    click.echo(f"dashboard: {base}/")
    click.echo(f"try: curl {base}/v1/users/{some_user}/recommendations?n=10")
    if not no_serve:
        click.echo(f"the first model search runs in the background: {base}/dashboard/jobs")
        update: dict[str, Any] = {"train_on_start": True}
        if budget is not None:
            update["train_budget_seconds"] = budget
        _run_server(settings.model_copy(update=update), host, port)


def _first_user(settings: Settings) -> str:
    store = _open_store(settings)
    try:
        rows, _ = store.users.page(None, 1)
        return rows[0]["user_id"] if rows else "USER_ID"
    finally:
        store.close()


@main.command()
@click.option(
    "--dataset",
    "source",
    required=True,
    metavar="NAME|PATH|store",
    help="movielens-100k, movielens-latest-small, lastfm-2k, demo, a file or folder in any "
    "import format, or 'store' for the service's own data.",
)
@click.option(
    "--split",
    "split_name",
    default="leave_last_out",
    show_default=True,
    type=click.Choice(
        [
            "leave_last_out",
            "random_holdout",
            "global_temporal",
            "temporal_fraction",
            "held_out_users",
        ]
    ),
)
@click.option(
    "--models",
    cls=_ListingOption,
    listing=lambda: f"Families: {_family_names()}.",
    help="Comma-separated families (or name=family); default: all that suit the data.",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME.KEY=VALUE",
    help="Fix a hyperparameter of one board entry (repeatable), e.g. sasrec.epochs=5.",
)
@click.option(
    "--k",
    "k_text",
    default="10",
    show_default=True,
    help="Cut-off(s): 10, or 10,20 to compute both (the table shows the metric's K; the JSON "
    "holds every K).",
)
@click.option("--metric", help="Metric to rank by; default ndcg@<smallest K>; rmse, mae.")
@click.option(
    "--tune-seconds",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Hyperparameter search budget per model, on a validation split of train.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--sampled",
    type=click.IntRange(min=1),
    help="Also rank each target against N random unseen items (keys sampled_...).",
)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="HTML report file.")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="JSON file."
)
@click.option(
    "--llm-rerank",
    is_flag=True,
    help="Also score the best model's lists re-ranked by the LLM (llm_url): NDCG, tokens, "
    "seconds, on --llm-users test users.",
)
@click.option(
    "--llm-users",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="Test users whose lists --llm-rerank re-ranks (one LLM call each).",
)
@click.option("--demo-users", type=click.IntRange(min=2), hidden=True)
@click.option("--demo-items", type=click.IntRange(min=36), hidden=True)
@click.pass_context
def evaluate(
    ctx: click.Context,
    source: str,
    split_name: str,
    models: str | None,
    params: tuple[str, ...],
    k_text: str,
    metric: str | None,
    tune_seconds: float,
    seed: int,
    sampled: int | None,
    report: Path | None,
    json_path: Path | None,
    llm_rerank: bool,
    llm_users: int,
    demo_users: int | None,
    demo_items: int | None,
) -> None:
    """Fit and compare models on one split: a leaderboard table, HTML report and JSON.

    Published data sets and the demo are read with the default feedback types, so their
    figures compare across installations; files and the store use the configured ones.
    With --llm-rerank, the best model's lists are also re-ranked by the LLM (docs/language.md).
    """
    from recserve.data import Dataset
    from recserve.evaluation.leaderboard import (
        apply_params,
        default_specs,
        parse_ks,
        parse_models,
        resolve_ks,
        run_leaderboard,
    )
    from recserve.evaluation.report import write_html
    from recserve.importers import ImportFailed
    from recserve.importers.datasets import KNOWN_DATASETS, load_dataset

    try:
        ks = parse_ks(k_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--k") from exc
    metric = metric or f"ndcg@{ks[0]}"
    try:
        ks = resolve_ks(ks, metric)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--metric") from exc
    try:
        specs = parse_models(models) if models is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--models") from exc
    if source != "demo" and (demo_users or demo_items):
        raise click.UsageError("--demo-users and --demo-items apply to --dataset demo only")
    if llm_rerank and not _settings(ctx).llm_enabled:
        raise click.UsageError("--llm-rerank needs an LLM: set llm_url (RECSERVE_LLM_URL)")

    click.echo(f"loading {source} ...", err=True)
    try:
        if source == "store":
            settings = _settings(ctx)
            _require_data(settings)
            store = _open_store(settings)
            try:
                data = Dataset.from_store(store, settings.feedback_types)
            finally:
                store.close()
        else:
            types = None if source in KNOWN_DATASETS else _settings(ctx).feedback_types
            data = load_dataset(source, types, demo_users=demo_users, demo_items=demo_items)
    except ImportFailed as exc:
        raise click.ClickException(str(exc)) from exc
    if len(data) == 0:
        raise click.ClickException(f"{source} holds no feedback events: nothing to evaluate")
    click.echo(f"{data.n_users:,} users, {data.n_items:,} items, {len(data):,} events", err=True)
    if params:
        try:
            specs = apply_params(specs if specs is not None else default_specs(data), params)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--param") from exc

    try:
        board = run_leaderboard(
            data, specs, split_name, k=ks, metric=metric, tune_seconds=tune_seconds, seed=seed,
            progress=lambda line: click.echo(line, err=True), dataset_name=Path(source).name,
            sampled_negatives=sampled,
        )  # fmt: skip
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    for family, reason in sorted(board.skipped.items()):
        click.echo(f"left out {family}: {reason}", err=True)
    click.echo(f"\n{source}, {board.split['name']} split, ranked by {metric}:")
    click.echo(board.to_text())
    if report is not None:
        write_html(board, report)
        click.echo(f"wrote {report}")
    document = board.to_json()
    if llm_rerank and board.best(metric) is not None:
        comparison = _llm_rerank(_settings(ctx), data, board, split_name, seed, ks[0], llm_users)
        click.echo("\n" + comparison.to_text())
        document = json.dumps({**board.to_dict(), "llm_rerank": comparison.to_dict()}, indent=2)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(document, encoding="utf-8")
        click.echo(f"wrote {json_path}")
    if not any(entry.ok for entry in board.entries):
        raise click.ClickException("every model failed (see above)")


def _llm_rerank(
    settings: Settings,
    data: Dataset,
    board: Leaderboard,
    split_name: str,
    seed: int,
    k: int,
    users: int,
) -> LlmRerankComparison:
    """The best entry refitted on the same split, its lists beside the LLM's re-ranking."""
    from recserve.algorithms import create
    from recserve.evaluation.leaderboard import make_split
    from recserve.evaluation.llm_rerank import compare_llm_rerank
    from recserve.llm.client import LlmClient

    best = board.best()
    assert best is not None  # the caller checked
    split, _ = make_split(data, split_name, seed)
    model = create(best.family, **best.final_params)
    model.fit(split.train)
    click.echo(f"re-ranking {best.name}'s lists with the LLM ...", err=True)
    client = LlmClient.from_settings(settings)
    try:
        return compare_llm_rerank(
            model, split, client, name=best.name, users=users, k=k,
            candidates=settings.llm_rerank_candidates, seed=seed,
        )  # fmt: skip
    finally:
        client.close()


def _listed_users(value: str) -> list[str]:
    """``--users``: a file with one id per line, or ids separated by commas."""
    path = Path(value)
    text = path.read_text(encoding="utf-8") if path.is_file() else value.replace(",", "\n")
    users = [line.strip() for line in text.splitlines() if line.strip()]
    if not users:
        raise click.BadParameter("no user id given", param_hint="--users")
    return users


@main.command()
@click.option("--all", "every_user", is_flag=True, help="Every user in the store.")
@click.option(
    "--users",
    metavar="FILE|ID,ID,...",
    help="Only these users: a file with one id per line, or ids separated by commas.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file: JSON lines, or Parquet when it ends with .parquet (needs pyarrow).",
)
@click.option("--n", default=10, show_default=True, type=click.IntRange(min=1), help="Per user.")
@click.option(
    "--scenario",
    default="recommended",
    show_default=True,
    type=click.Choice(["recommended", "popular", "trending", "latest"]),
)
@click.pass_context
def recommend(
    ctx: click.Context,
    every_user: bool,
    users: str | None,
    out: Path,
    n: int,
    scenario: str,
) -> None:
    """Write the recommendations of every user (--all) or of listed users (--users) to a
    file, one line per user: {"user_id", "items": [{"item_id", "score"}], "model", ...}.

    The lists are the ones GET /v1/users/{id}/recommendations answers now (the same
    champions, fallbacks and experiment variants), scored a chunk of users at a time.
    Listed users the store does not hold are reported and get no line."""
    from recserve.batch.export import export_recommendations
    from recserve.batch.output import OutputError
    from recserve.batch.standalone import serving_engine
    from recserve.serving import ModelNotReady

    if every_user == (users is not None):
        raise click.UsageError("give either --all or --users")
    listed = _listed_users(users) if users is not None else None
    settings = _settings(ctx)
    _require_data(settings)  # a typo in --data-dir must not export lists of nobody
    if n > settings.max_n:
        raise click.BadParameter(f"at most {settings.max_n} (max_n)", param_hint="--n")
    with serving_engine(settings) as engine:
        try:
            with click.progressbar(length=1, label="users", file=sys.stderr) as bar:

                def progress(done: int, total: int) -> None:
                    bar.length = total
                    bar.update(done - bar.pos)

                report = export_recommendations(
                    engine, out, n=n, scenario=scenario, users=listed, progress=progress
                )
        except (ModelNotReady, OutputError) as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            engine.experiments.close()
    if report.unknown_count:
        shown = ", ".join(report.unknown[:20])
        more = "" if report.unknown_count <= 20 else f" and {report.unknown_count - 20} more"
        click.echo(
            f"{report.unknown_count} unknown users, no line written: {shown}{more}", err=True
        )
    models = ", ".join(f"{ref} {count}" for ref, count in sorted(report.models.items()))
    click.echo(f"wrote {report.users} users to {out} ({models or 'no model'})")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def dump(ctx: click.Context, file: Path) -> None:
    """Write the store (items, users, events, relations, experiments, jobs, deletion marks)
    and the model registry (every version, champions, history) to FILE, a .tar.gz archive.

    Safe while the service runs: the tables are read in one snapshot transaction and the
    registry's version folders never change once written (docs/operations.md)."""
    from recserve.backup import BackupError
    from recserve.backup import dump as dump_archive

    settings = _settings(ctx)
    _require_data(settings)  # a typo in --data-dir must not write an empty backup
    store = _open_store(settings)
    try:
        manifest = dump_archive(
            store, settings.models_dir, file, progress=lambda line: click.echo(line, err=True)
        )
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    rows = ", ".join(f"{name} {count}" for name, count in manifest["tables"].items())
    versions = len(manifest["registry"]["versions"])
    click.echo(f"wrote {file}: {rows}; {versions} model versions")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the data of a store that is not empty.")
@click.pass_context
def restore(ctx: click.Context, file: Path, force: bool) -> None:
    """Restore a dump made by `recserve dump` into the configured data directory and
    database. They must be empty, unless --force (which replaces what they hold); stop
    the servers using them first."""
    import sqlalchemy as sa

    from recserve.backup import BackupError
    from recserve.backup import restore as restore_archive

    settings = _settings(ctx)
    store = _open_store(settings)
    try:
        manifest = restore_archive(
            file,
            store,
            settings.models_dir,
            force=force,
            progress=lambda line: click.echo(line, err=True),
        )
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise click.ClickException(f"restore failed, nothing was changed: {exc}") from exc
    finally:
        store.close()
    rows = ", ".join(f"{name} {count}" for name, count in manifest["tables"].items())
    click.echo(f"restored {file} into {settings.data_dir}: {rows}")


@main.command()
@click.option("--url", help="A running server's base URL: report its health, readiness, metrics.")
@click.option("--api-key", help="X-API-Key for --url when the server needs one.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def status(ctx: click.Context, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Counts, champions (metrics, age) and the last training job, read from the configured
    store and registry; with --url, a running server's /health, /ready and /metrics."""
    import json

    from recserve.observability.status import (
        StatusError,
        format_status,
        local_status,
        remote_status,
    )

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request
    if url is None:
        _require_data(_settings(ctx), registry=True)
    try:
        report = remote_status(url, api_key) if url else local_status(_settings(ctx))
    except StatusError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report, indent=2, default=str) if as_json else format_status(report))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
