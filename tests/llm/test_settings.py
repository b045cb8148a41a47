"""The LLM settings: validated, off by default, and the API key never shown."""

from __future__ import annotations

import pytest

from recserve.config import ConfigError, Settings, load_settings

KEY = "sk-very-secret-0123"


def test_off_by_default() -> None:
    settings = Settings()
    assert not settings.llm_enabled and settings.llm_rerank_scenarios == ["recommended"]


def test_the_key_is_never_shown() -> None:
    settings = Settings(llm_url="http://127.0.0.1:1", llm_api_key=KEY)
    assert settings.llm_api_key.get_secret_value() == KEY
    for shown in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
    ):
        assert KEY not in shown


def test_bad_values_are_refused_without_echoing_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSERVE_LLM_API_KEY", KEY)
    monkeypatch.setenv("RECSERVE_LLM_URL", "ftp://nowhere")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "llm_url" in str(error.value) and KEY not in str(error.value)
    monkeypatch.setenv("RECSERVE_LLM_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("RECSERVE_LLM_RERANK_SCENARIOS", '["similar_items"]')
    with pytest.raises(ConfigError, match="llm_rerank_scenarios"):
        load_settings()
