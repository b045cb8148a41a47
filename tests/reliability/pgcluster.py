"""A private PostgreSQL cluster for one test: ``initdb`` and ``pg_ctl`` on a free port.

Tests that stop and start a database use this, never the machine's shared server on 5432
(other tests use it at the same time). As root, the server programs run as the
``postgres`` user (PostgreSQL refuses to run as root); the cluster lives in a temporary
folder that user can reach, removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import free_port

PG_BIN = Path(os.environ.get("RECSERVE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PrivatePostgres:
    """One cluster in ``folder``, listening on 127.0.0.1:``port``; trust authentication."""

    def __init__(self, folder: Path, port: int):
        self.folder = folder
        self.data = folder / "data"
        self.port = port
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(PG_BIN / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"{program} failed:\n{result.stdout}\n{result.stderr}")

    def init(self) -> None:
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as in a real outage."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private cluster, stopped and removed on exit; skips when PostgreSQL's
    server programs are not installed."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server programs not found in {PG_BIN}")
    folder = Path(tempfile.mkdtemp(prefix="recserve-pg-"))
    cluster = PrivatePostgres(folder, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(AssertionError, subprocess.SubprocessError):
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
