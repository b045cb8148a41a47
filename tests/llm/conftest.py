"""Session-wide LLM servers, each a real process: fake ones in several modes (always run)
and llama-cpp-python's server over a tiny model written by the test (``llama``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.llm.bookshop import bookshop
from tests.llm.servers import FakeLlm, fake_llm, llama_missing, llama_server


@pytest.fixture(scope="session")
def good_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeLlm]:
    with fake_llm(tmp_path_factory.mktemp("llm-good")) as server:
        yield server


@pytest.fixture(scope="session")
def slow_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeLlm]:
    with fake_llm(tmp_path_factory.mktemp("llm-slow"), "slow", delay=3.0) as server:
        yield server


@pytest.fixture(scope="session")
def garbage_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeLlm]:
    with fake_llm(tmp_path_factory.mktemp("llm-garbage"), "garbage") as server:
        yield server


@pytest.fixture(scope="session")
def with_llm(tmp_path_factory: pytest.TempPathFactory, good_llm: FakeLlm) -> Iterator[str]:
    """A recserve server with the bookshop, its LLM stage on the good fake server."""
    env = {"RECSERVE_LLM_URL": good_llm.url, "RECSERVE_LLM_MODEL": "tiny"}
    with bookshop(tmp_path_factory.mktemp("with-llm"), **env) as base:
        yield base


@pytest.fixture(scope="session")
def llama_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-protocol server over a tiny random model the test writes;
    skipped with the reason when llama_cpp or gguf cannot be imported."""
    missing = llama_missing()
    if missing is not None:
        pytest.skip(missing)
    with llama_server(tmp_path_factory.mktemp("llama")) as url:
        yield url
