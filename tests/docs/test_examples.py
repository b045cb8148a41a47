"""The worked examples in docs/examples run as written, and print what they say they print.

Each guide runs in a fresh temporary folder (so a fresh data dir) with a free port; the
real-data guides read the shared data sets through ``RECSERVE_DATASETS_DIR``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recserve.importers.datasets import datasets_dir
from tests.docs.runner import GuideRun, parse_blocks
from tests.live import free_port, live_server, run_cli
from tests.llm.servers import fake_llm, llama_missing, llama_server

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS / "examples"


def run_guide(name: str, tmp_path: Path, **overrides: str) -> list[str]:
    port = free_port()
    run = GuideRun(
        EXAMPLES / name,
        tmp_path,
        {"PORT": str(port), "API_URL": f"http://127.0.0.1:{port}", **overrides},
    )
    try:
        return run.run()
    finally:
        run.stop_servers()


def shared_datasets() -> Path:
    found = datasets_dir()
    if found is None or not (found / "movielens-100k").is_dir():
        pytest.fail("the shared data sets (../shared/datasets) are missing")
    return found.resolve()


def test_every_guide_has_runnable_blocks_with_checked_output() -> None:
    for guide in sorted(EXAMPLES.glob("*.md")):
        blocks = parse_blocks(guide.read_text())
        runnable = [b for b in blocks if b.lang in ("bash", "python")]
        assert len(runnable) >= 4, guide.name
        assert sum(len(b.expected) for b in runnable) >= 3, guide.name
        assert any("env" in b.flags for b in runnable), guide.name


def test_a_failing_block_or_missing_output_fails(tmp_path: Path) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text("```bash\necho hello\n```\n```output\nhello\n```\n```bash\nexit 3\n```\n")
    with pytest.raises(AssertionError, match="exited 3"):
        GuideRun(guide, tmp_path, {}).run()
    guide.write_text("```python\nprint('hello')\n```\n```output\ngoodbye\n```\n")
    with pytest.raises(AssertionError, match="goodbye"):
        GuideRun(guide, tmp_path, {}).run()


def test_quickstart(tmp_path: Path) -> None:
    """The curl blocks against a (small) demo server, then import, train and evaluate."""
    demo = tmp_path / "demo"
    run_cli(
        "demo", "--no-serve", "--users", "200", "--items", "300", data_dir=demo,
        RECSERVE_TRAIN_BUDGET_SECONDS="5",
    )  # fmt: skip
    with live_server("serve", data_dir=demo, ready_path="/ready") as (base, _):
        work = tmp_path / "work"
        work.mkdir()
        outputs = GuideRun(DOCS / "quickstart.md", work, {"API_URL": base}).run()
    assert (work / ".data" / "quickstart" / "leaderboard.html").is_file()
    assert not (work / "leaderboard.html").exists()  # nothing lands in the folder it runs from
    assert len(outputs) == 7


def test_shop_example(tmp_path: Path) -> None:
    run_guide("shop.md", tmp_path)


def test_social_example(tmp_path: Path) -> None:
    run_guide("social.md", tmp_path)


@pytest.mark.slow
def test_music_example(tmp_path: Path) -> None:
    run_guide("music.md", tmp_path, RECSERVE_DATASETS_DIR=str(shared_datasets()))


@pytest.mark.slow
def test_movies_example(tmp_path: Path) -> None:
    """Its leaderboard goes to the guide's report folder under .data/, never into the
    folder it runs from (a reader runs it from the repository root)."""
    in_root = [DOCS.parent / name for name in ("leaderboard.html", "leaderboard.json")]
    before = [p.stat().st_mtime if p.exists() else None for p in in_root]
    run_guide("movies.md", tmp_path, RECSERVE_DATASETS_DIR=str(shared_datasets()))
    reports = tmp_path / ".data" / "examples" / "movies-reports"
    assert (reports / "leaderboard.html").is_file() and (reports / "leaderboard.json").is_file()
    assert sorted(p.name for p in tmp_path.glob("leaderboard*")) == []
    assert [p.stat().st_mtime if p.exists() else None for p in in_root] == before


def test_search_example(tmp_path: Path) -> None:
    run_guide("search.md", tmp_path)


def run_language_guide(tmp_path: Path, llm_url: str) -> None:
    """docs/language.md against the OpenAI-protocol server at ``llm_url``."""
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    run = GuideRun(
        DOCS / "language.md",
        work,
        {"PORT": str(port), "API_URL": f"http://127.0.0.1:{port}", "RECSERVE_LLM_URL": llm_url},
    )
    try:
        run.run()
    finally:
        run.stop_servers()


def test_language_guide(tmp_path: Path) -> None:
    """The LLM stage's guide against the fake OpenAI-protocol server (tests/llm/fake_llm.py),
    a process of its own; always runs."""
    folder = tmp_path / "llm"
    folder.mkdir()
    with fake_llm(folder) as server:
        run_language_guide(tmp_path, server.url)


def test_language_guide_on_llama(tmp_path: Path) -> None:
    """The same guide against llama-cpp-python's server over a tiny random model."""
    missing = llama_missing()
    if missing is not None:
        pytest.skip(missing)
    folder = tmp_path / "llama"
    folder.mkdir()
    with llama_server(folder) as url:
        run_language_guide(tmp_path, url)
