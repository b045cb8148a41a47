"""Mistakes found before any work (``recserve.preflight``), through the real CLI: a port in
use stops ``serve`` and ``demo`` before data generation and training; a read-only command
on a missing data directory or store says so, exits 1 and creates nothing."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from recserve.cli import main
from tests.live import RECSERVE


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another process (here: this one) listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("command", [["demo", "--users", "40", "--items", "80"], ["serve"]])
def test_a_port_in_use_stops_before_any_work(
    busy_port: int, tmp_path: Path, command: list[str]
) -> None:
    data_dir = tmp_path / "data"
    result = subprocess.run(
        [*RECSERVE, "--data-dir", str(data_dir), *command, "--port", str(busy_port)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert f"port {busy_port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert "generating demo data" not in result.stdout and "training" not in result.stdout
    assert not data_dir.exists()  # nothing generated, imported or trained


def test_demo_no_serve_does_not_need_the_port(busy_port: int, tmp_path: Path) -> None:
    """--no-serve never binds the port, so a busy one is no reason to refuse it."""
    result = CliRunner().invoke(
        main,
        ["demo", "--no-serve", "--users", "40", "--items", "80", "--port", str(busy_port),
         "--data-dir", str(tmp_path / "demo")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo" / "recserve.sqlite").is_file()


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["evaluate", "--dataset", "store"],
        ["train", "--models", "popular"],
        ["dump", "backup.tar.gz"],
        ["recommend", "--all", "--out", "lists.jsonl"],
    ],
)
def test_read_only_commands_refuse_a_missing_data_dir(tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "dat"
    result = CliRunner().invoke(main, ["--data-dir", str(typo), *command])
    assert result.exit_code == 1, result.output
    assert f"data directory {typo} does not exist" in result.output
    assert "Traceback" not in result.output
    assert not typo.exists()


def test_a_missing_sqlite_file_is_refused_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'store.sqlite'}"
    result = CliRunner().invoke(
        main, ["status", "--data-dir", str(tmp_path), "--database-url", url]
    )
    assert result.exit_code == 1
    assert f"no store at {tmp_path / 'elsewhere' / 'store.sqlite'}" in result.output
    assert not (tmp_path / "elsewhere").exists()
