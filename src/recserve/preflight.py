"""Checks a command makes before it does any work, so a mistake gets a clear answer at once:
the port to serve on is free, and the data a read-only command reads exists.

Without them ``recserve demo`` on a busy port trained first and failed with uvicorn's raw
``address already in use`` at the end, and ``recserve --data-dir <typo> status`` created an
empty store and reported zero users.
"""

from __future__ import annotations

import socket
from pathlib import Path

import sqlalchemy as sa

from recserve.config import Settings


class PreflightError(Exception):
    """A check failed; the message says what is wrong and what to do."""


def check_port_free(host: str, port: int) -> None:
    """Bind ``host:port`` the way uvicorn will (``SO_REUSEADDR``) and let it go again;
    PreflightError when another process listens there or the address is not usable."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PreflightError(f"cannot serve on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PreflightError(
                f"port {port} on {host} is already in use ({exc.strerror}): another server "
                f"(perhaps a recserve started earlier) listens there; stop it or pass --port"
            ) from exc


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for another database or an in-memory one."""
    if not url.startswith("sqlite"):
        return None
    database = sa.engine.make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def check_data_exists(settings: Settings, *, registry: bool = False) -> None:
    """For commands that only read: PreflightError when the SQLite store (or, with
    ``registry``, the data directory that holds the models) does not exist, instead of
    creating an empty one there. A server database (PostgreSQL) is not checked here:
    opening it reports a wrong URL itself."""
    data_dir = settings.data_dir
    hint = "check --data-dir (RECSERVE_DATA_DIR)"
    if not data_dir.is_dir() and (registry or settings.database_url is None):
        raise PreflightError(
            f"data directory {data_dir} does not exist: {hint}, or create the data with "
            "`recserve import` or `recserve demo`"
        )
    database = sqlite_file(settings.resolved_database_url)
    if database is not None and not database.is_file():
        raise PreflightError(
            f"no store at {database}: nothing was imported there; {hint} and "
            "--database-url (RECSERVE_DATABASE_URL), or import data first"
        )
