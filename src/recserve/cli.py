"""The ``recserve`` command line: serve, import, train, demo.

Settings come from ``RECSERVE_*`` environment variables (and ``RECSERVE_CONFIG_FILE``);
``--data-dir`` and ``--database-url`` override them for one command.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from recserve.config import ConfigError, Settings, load_settings


def _settings(ctx: click.Context) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in ctx.obj.items() if v is not None}
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _open_store(settings: Settings):  # type: ignore[no-untyped-def]
    from recserve.store import Store

    return Store.open(settings.resolved_database_url)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path), help="Data directory (RECSERVE_DATA_DIR).")
@click.option("--database-url", help="SQLAlchemy URL (RECSERVE_DATABASE_URL); default SQLite in the data dir.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.version_option(package_name="recserve")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, database_url: str | None, verbose: bool) -> None:
    """recserve: recommendation models served as a service."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = {"data_dir": data_dir, "database_url": database_url}


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    settings = _settings(ctx)
    _run_server(settings, host, port)


def _run_server(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from recserve.api.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=False)


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
    from recserve.importers import ImportValidationError, import_source

    settings = _settings(ctx)
    store = _open_store(settings)
    try:
        report = import_source(
            store, source, format=fmt, kind=kind, feedback_types=settings.feedback_types, progress=True
        )
    except ImportValidationError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"imported {report}")
    click.echo(f"store now holds {_open_store(settings).counts()}")


@main.command()
@click.pass_context
def train(ctx: click.Context) -> None:
    """Train the default models on a snapshot of the store and promote them."""
    from recserve.registry import ModelRegistry
    from recserve.training import train_default_models

    settings = _settings(ctx)
    store = _open_store(settings)
    try:
        report = train_default_models(
            store,
            ModelRegistry(settings.models_dir),
            settings.feedback_types,
            progress=lambda name: click.echo(f"training {name} ..."),
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"snapshot: {report.data_stats} in {report.snapshot_seconds:.2f}s")
    for name, info in report.models.items():
        click.echo(f"  {name}: {info['version']} fitted in {info['fit_seconds']:.2f}s")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--users", "n_users", default=1000, show_default=True, type=int)
@click.option("--items", "n_items", default=2000, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Generate, import and train, then exit.")
@click.pass_context
def demo(
    ctx: click.Context, host: str, port: int, n_users: int, n_items: int, seed: int, no_serve: bool
) -> None:
    """Generate the demo data set (first run only), train, and serve it."""
    from recserve.demo import load_demo

    if ctx.obj.get("data_dir") is None:
        ctx.obj["data_dir"] = Path(".data/demo")
    settings = _settings(ctx)
    store = _open_store(settings)
    try:
        if store.feedback.count() == 0:
            click.echo(f"generating demo data ({n_users} users, {n_items} items, seed {seed}) ...")
            report = load_demo(store, seed=seed, n_users=n_users, n_items=n_items)
            click.echo(f"imported {report}")
        else:
            click.echo(f"using the existing demo data in {settings.data_dir}: {store.counts()}")
    finally:
        store.close()
    ctx.invoke(train)
    some_user = _first_user(settings)
    base = f"http://{host}:{port}"
    click.echo("")
    click.echo(f"recserve demo at {base}  (API docs: {base}/docs)")
    click.echo(f"try: curl {base}/v1/users/{some_user}/recommendations?n=10")
    if not no_serve:
        _run_server(settings, host, port)


def _first_user(settings: Settings) -> str:
    store = _open_store(settings)
    try:
        rows, _ = store.users.page(None, 1)
        return rows[0]["user_id"] if rows else "USER_ID"
    finally:
        store.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
