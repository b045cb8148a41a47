"""The CLI's options as a new user meets them: the global options work and show on every
subcommand, ``--models`` help names the valid models, and faiss's loader lines are gone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from recserve.algorithms import FAMILIES
from recserve.cli import main
from recserve.training.pipeline import DEFAULT_MODELS, OPTIONAL_MODELS
from tests.live import live_server


def help_text(*command: str) -> str:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # undo the wrapping


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_subcommand_shows_the_global_options(name: str) -> None:
    text = help_text(name)
    for option in ("--data-dir", "--database-url", "-v, --verbose"):
        assert option in text, name


def test_global_options_work_after_the_subcommand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # were the option ignored, .data/demo would appear here
    after = tmp_path / "after"
    demo = ["demo", "--no-serve", "--users", "40", "--items", "80", "--data-dir", str(after)]
    result = CliRunner().invoke(main, demo)
    assert result.exit_code == 0, result.output
    assert (after / "recserve.sqlite").is_file() and (after / "models").is_dir()
    assert not (tmp_path / ".data").exists()

    before = CliRunner().invoke(main, ["--data-dir", str(after), "status"])
    assert before.exit_code == 0, before.output
    assert "users 40, items 80" in before.output
    # after the subcommand it wins over the one before, and -v is accepted there too
    both = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "nope"), "status", "-v", "--data-dir", str(after)]
    )
    assert both.exit_code == 0, both.output
    assert _ageless(both.output) == _ageless(before.output)


def _ageless(status: str) -> str:
    """``recserve status`` output without the champions' ages, which tick between calls."""
    return re.sub(r"age \d+s", "age Ns", status)


def test_models_help_lists_the_valid_names() -> None:
    train = help_text("train")
    for name in [*DEFAULT_MODELS, *OPTIONAL_MODELS, *FAMILIES]:
        assert name in train, name
    evaluate = help_text("evaluate")
    assert f"Families: {', '.join(sorted(FAMILIES))}." in evaluate
    unknown = CliRunner().invoke(main, ["train", "--models", "nope"])
    assert unknown.exit_code == 1 and "unknown model" in unknown.output


def test_serve_prints_no_faiss_loader_lines(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with live_server("serve", data_dir=data_dir, RECSERVE_MODEL_POLL_SECONDS="0"):
        pass
    log = (data_dir / "server.log").read_text()
    assert "Application startup complete" in log  # the log was written
    assert "faiss" not in log and "ModuleNotFoundError" not in log
