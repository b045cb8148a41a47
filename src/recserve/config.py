"""Service settings: environment variables prefixed ``RECSERVE_``, then an optional TOML file.

One validated settings object is built at start-up (``load_settings``) and handed down
explicitly; nothing reads the environment at import time, so tests build their own.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class FeedbackKind(enum.StrEnum):
    """How a feedback type counts for training and filtering."""

    POSITIVE = "positive"  # the user liked it: a training signal, excluded from recommendations
    NEGATIVE = "negative"  # the user rejected it: never recommended to them again
    READ = "read"  # seen but not acted on: kept, not a training signal
    RATING = "rating"  # explicit rating: positive, negative or read by thresholds on ``value``


class FeedbackType(BaseModel):
    """The rule for one configured feedback type (``like``, ``rating``, ``view`` ...)."""

    kind: FeedbackKind
    weight: float = Field(default=1.0, gt=0, le=1000)
    positive_at_or_above: float | None = None
    negative_at_or_below: float | None = None
    # "log": a positive event's weight is multiplied by 1 + log1p(value), for counts (plays).
    value_scaling: Literal["none", "log"] = "none"

    @model_validator(mode="after")
    def _rating_needs_thresholds(self) -> FeedbackType:
        if self.kind == FeedbackKind.RATING and (
            self.positive_at_or_above is None or self.negative_at_or_below is None
        ):
            raise ValueError(
                "a rating feedback type needs positive_at_or_above and negative_at_or_below"
            )
        return self

    def classify(self, value: float | None) -> FeedbackKind:
        """Positive, negative or read for one event of this type."""
        if self.kind != FeedbackKind.RATING:
            return self.kind
        if value is None:
            return FeedbackKind.READ
        assert self.positive_at_or_above is not None and self.negative_at_or_below is not None
        if value >= self.positive_at_or_above:
            return FeedbackKind.POSITIVE
        if value <= self.negative_at_or_below:
            return FeedbackKind.NEGATIVE
        return FeedbackKind.READ


def default_feedback_types() -> dict[str, FeedbackType]:
    pos, neg, read = FeedbackKind.POSITIVE, FeedbackKind.NEGATIVE, FeedbackKind.READ
    return {
        "like": FeedbackType(kind=pos, weight=2.0),
        "purchase": FeedbackType(kind=pos, weight=4.0),
        "add_to_cart": FeedbackType(kind=pos, weight=2.0),
        "play": FeedbackType(kind=pos, weight=1.0, value_scaling="log"),
        "click": FeedbackType(kind=pos, weight=1.0),
        "share": FeedbackType(kind=pos, weight=3.0),
        "rating": FeedbackType(
            kind=FeedbackKind.RATING, weight=1.0, positive_at_or_above=4, negative_at_or_below=2
        ),
        "dislike": FeedbackType(kind=neg),
        "view": FeedbackType(kind=read),
        "impression": FeedbackType(kind=read),
    }


class Scope(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class ApiKey(BaseModel):
    """One API key. ``key`` may be given plain or as ``sha256:<hex>`` so configs hold no secrets.

    A plain key is replaced by its ``sha256:`` digest as soon as the settings are validated:
    the clear text is never kept in memory past start-up, shown in a repr or logged.
    """

    key: str = Field(min_length=8, repr=False)
    scopes: set[Scope] = Field(min_length=1)
    name: str = ""
    rate_limit_per_minute: int | None = Field(
        default=None, ge=1, description="Requests per minute for this key; unset: the default."
    )

    @field_validator("key")
    @classmethod
    def _hashed(cls, value: str) -> str:
        if value.startswith("sha256:"):
            digest = value.removeprefix("sha256:").lower()
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError("a sha256: key must be followed by 64 hexadecimal digits")
            return "sha256:" + digest
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()

    @property
    def digest(self) -> str:
        return self.key.removeprefix("sha256:")

    @property
    def label(self) -> str:
        """How logs and rate-limit counters name the key: its name, or a digest prefix."""
        return self.name or self.digest[:12]

    def allows(self, scope: Scope) -> bool:
        """``admin`` implies every scope; ``read`` and ``write`` are independent."""
        return Scope.ADMIN in self.scopes or scope in self.scopes


# A training job's default search budget: SASRec fits into it on MovieLens 100K (job 89 s
# on two cores, docs/benchmarks.md); `recserve demo` gives its first search 60 s.
DEFAULT_TRAIN_BUDGET_SECONDS = 120.0

# The lists the LLM stage may re-rank (``llm_rerank_scenarios``): the user-keyed top-n lists.
LLM_RERANK_SCENARIOS = ("recommended", "popular", "trending", "latest")


class Settings(BaseSettings):
    """Everything the service can be configured with; see docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="RECSERVE_", extra="forbid", validate_default=True)

    data_dir: Path = Field(
        default=Path(".data"), description="Where the database, models and logs live."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite at <data_dir>/recserve.sqlite."
    )
    api_keys: list[ApiKey] = Field(
        default_factory=list, description="Empty: the service runs open."
    )
    feedback_types: dict[str, FeedbackType] = Field(default_factory=default_feedback_types)
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_batch_size: int = Field(default=50_000, ge=1)
    max_n: int = Field(default=1000, ge=1)
    model_poll_seconds: float = Field(
        default=2.0, ge=0, description="How often serving checks the registry for new champions."
    )
    train_interval_seconds: float | None = Field(
        default=None,
        ge=0,
        description="Start a training job this often from the API process; 0 or unset: off.",
    )
    train_budget_seconds: float = Field(
        default=DEFAULT_TRAIN_BUDGET_SECONDS,
        gt=0,
        le=7 * 24 * 3600,
        description="Time for a training job's model search and holdout check (the final "
        "refit on all data comes on top); a request's budget_seconds overrides it.",
    )
    train_on_start: bool = Field(
        default=False,
        description="When the server starts with events and no training job has run yet, "
        "start one in the background (`recserve demo` turns this on).",
    )
    ann_min_items: int = Field(
        default=50_000,
        ge=1,
        description="Factor models with at least this many items serve top-n through faiss ANN.",
    )
    search_semantic_max_items: int = Field(
        default=200_000,
        ge=0,
        description="Search by meaning (MiniLM item vectors) up to this many items; above, "
        "words only. The vectors are encoded in the background after the first search.",
    )
    search_refresh_seconds: float = Field(
        default=5.0, gt=0, description="How soon new or edited items are searchable by meaning."
    )
    fast_lane: bool = Field(
        default=True,
        description="Answer plain cached recommendation reads without FastAPI's routing.",
    )
    # users' live histories cached by serving (src/recserve/serving/history.py)
    history_cache_users: int = Field(
        default=100_000, ge=0, description="Users whose live history serving caches; 0: off."
    )
    history_cache_ttl_seconds: float | None = Field(
        default=None,
        ge=0,
        description="Expiry of a cached history; unset: none alone, 1 s with redis_url.",
    )
    log_level: str = "INFO"
    # observability (docs/observability.md) ----------------------------------------------
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text: lines for humans; json: one JSON object per line, for production.",
    )
    metrics_public: bool = Field(
        default=True,
        description="GET /metrics without an API key; false: it needs an admin key.",
    )
    # scale-out and security (docs/scaling.md) -------------------------------------------
    redis_url: str | None = Field(
        default=None,
        repr=False,  # may hold a password
        description="Redis shared by API replicas; unset: single-process mode.",
    )
    redis_prefix: str = Field(
        default="recserve",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Prefix of every Redis key and channel (one per deployment).",
    )
    rate_limit_per_minute: int | None = Field(
        default=None,
        ge=1,
        description="Requests per minute per API key (per client address when open); unset: off.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser; empty: no CORS headers.",
    )
    # the optional LLM stage (docs/language.md) ------------------------------------------
    llm_url: str = Field(
        default="",
        description="Base URL of an OpenAI-compatible API (its /v1/chat/completions); "
        "empty: no LLM stage.",
    )
    llm_model: str = Field(default="", max_length=200, description="Model name sent with calls.")
    llm_api_key: SecretStr = Field(
        default=SecretStr(""), description="Bearer token of the LLM API; never shown or logged."
    )
    llm_response_format: Literal["json_schema", "json_object"] = Field(
        default="json_schema",
        description="How the answer's JSON schema is asked for: json_schema (OpenAI, vLLM, "
        "llama.cpp's llama-server) or json_object with a schema (llama-cpp-python).",
    )
    llm_timeout_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Deadline of one LLM call, queueing included."
    )
    llm_max_concurrency: int = Field(
        default=4, ge=1, le=1024, description="LLM calls in flight at once per process."
    )
    llm_token_budget: int = Field(
        default=0,
        ge=0,
        description="Tokens (prompt + completion) per clock hour per process; 0: no limit.",
    )
    llm_rerank_scenarios: list[str] = Field(
        default_factory=lambda: ["recommended"],
        description="Lists re-ranked by the LLM on every request when llm_url is set.",
    )
    llm_rerank_candidates: int = Field(
        default=20, ge=2, le=100, description="How many top candidates the LLM re-orders."
    )
    llm_cache_entries: int = Field(
        default=4096, ge=0, description="LLM answers kept, by prompt; 0: no cache."
    )
    llm_cache_ttl_seconds: float = Field(
        default=3600.0, gt=0, description="How long a cached LLM answer is used."
    )
    # Spark training engine (docs/spark.md) ----------------------------------------------
    spark_master: str = Field(
        default="local[*]",
        min_length=1,
        description="Spark master URL for `recserve train --engine spark`: local[N] or a cluster.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments win, then the environment, then the TOML file.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("RECSERVE_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("feedback_types")
    @classmethod
    def _some_positive_type(cls, value: dict[str, FeedbackType]) -> dict[str, FeedbackType]:
        if not any(t.kind in (FeedbackKind.POSITIVE, FeedbackKind.RATING) for t in value.values()):
            raise ValueError("at least one feedback type must be positive or a rating")
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("llm_url")
    @classmethod
    def _http_llm(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("llm_url must be an http:// or https:// URL, or empty")
        return value

    @field_validator("llm_rerank_scenarios")
    @classmethod
    def _rerankable(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(LLM_RERANK_SCENARIOS))
        if unknown:
            raise ValueError(
                f"llm_rerank_scenarios: unknown {unknown}; known: {', '.join(LLM_RERANK_SCENARIOS)}"
            )
        return list(dict.fromkeys(value))

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
            raise ValueError("log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'recserve.sqlite').resolve()}"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_url)

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys)


class ConfigError(Exception):
    """Settings could not be loaded; the message says which value is wrong and why."""


def load_settings(**overrides: Any) -> Settings:
    """Build and validate settings, turning pydantic's errors into one readable message."""
    from pydantic import ValidationError

    known = {f"RECSERVE_{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(
        name
        for name in os.environ
        if name.startswith("RECSERVE_")
        and name not in known
        and name not in ("RECSERVE_CONFIG_FILE", "RECSERVE_DATASETS_DIR")
        and not name.startswith(("RECSERVE_TEST_", "RECSERVE_BENCH_"))
    )
    if unknown:  # a typo in a variable name would otherwise be silently ignored
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}; see docs/configuration.md")
    config_file = os.environ.get("RECSERVE_CONFIG_FILE")
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"RECSERVE_CONFIG_FILE={config_file} does not exist")
    try:
        if config_file:
            tomllib.loads(Path(config_file).read_text())  # syntax errors, reported plainly
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or '(settings)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError("invalid recserve settings:\n" + "\n".join(lines)) from exc
