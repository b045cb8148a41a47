from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from recserve.config import ApiKey, ConfigError, FeedbackKind, Scope, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RECSERVE_CONFIG_FILE", raising=False)
    settings = load_settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'recserve.sqlite').resolve()}"
    assert not settings.auth_enabled
    assert settings.feedback_types["rating"].classify(4) == FeedbackKind.POSITIVE
    assert settings.feedback_types["rating"].classify(3) == FeedbackKind.READ
    assert settings.feedback_types["rating"].classify(1.5) == FeedbackKind.NEGATIVE
    assert settings.feedback_types["view"].classify(None) == FeedbackKind.READ


def test_environment_then_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "recserve.toml"
    config.write_text(
        'database_url = "postgresql://db.example/x"\nmax_n = 50\n'
        '[feedback_types.watch]\nkind = "positive"\nweight = 2.5\n'
    )
    monkeypatch.setenv("RECSERVE_CONFIG_FILE", str(config))
    monkeypatch.setenv("RECSERVE_MAX_N", "70")
    monkeypatch.setenv("RECSERVE_API_KEYS", '[{"key": "secret-key-1", "scopes": ["read"]}]')
    settings = load_settings()
    assert settings.max_n == 70  # the environment wins over the file
    assert settings.database_url == "postgresql://db.example/x"
    assert list(settings.feedback_types) == ["watch"]
    assert settings.api_keys[0].allows(Scope.READ) and not settings.api_keys[0].allows(Scope.WRITE)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RECSERVE_DATABASE_URL": "mysql://x"}, "database_url"),
        ({"RECSERVE_MAX_N": "zero"}, "max_n"),
        ({"RECSERVE_API_KEYS": '[{"key": "short", "scopes": ["read"]}]'}, "api_keys"),
        ({"RECSERVE_API_KEYS": '[{"key": "long-enough-key", "scopes": ["root"]}]'}, "api_keys"),
        ({"RECSERVE_FEEDBACK_TYPES": '{"view": {"kind": "read"}}'}, "positive"),
        ({"RECSERVE_FEEDBACK_TYPES": '{"stars": {"kind": "rating"}}'}, "positive_at_or_above"),
        ({"RECSERVE_UNKNOWN_SETTING": "1"}, "RECSERVE_UNKNOWN_SETTING"),
    ],
)
def test_invalid_settings_fail_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    monkeypatch.delenv("RECSERVE_CONFIG_FILE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_missing_or_broken_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECSERVE_CONFIG_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()
    broken = tmp_path / "broken.toml"
    broken.write_text("max_n = = 3")
    monkeypatch.setenv("RECSERVE_CONFIG_FILE", str(broken))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()


def test_api_key_digest_accepts_hashed_keys() -> None:
    digest = hashlib.sha256(b"my-secret-key").hexdigest()
    plain = ApiKey(key="my-secret-key", scopes={Scope.ADMIN})
    hashed = ApiKey(key=f"sha256:{digest}", scopes={Scope.ADMIN})
    assert plain.digest == hashed.digest == digest
    assert plain.allows(Scope.WRITE)
