"""Shapes of what clients send and receive, split by direction (Create / Update / Public).

The same models validate API bodies and imported files, so a row that the API would
refuse is refused by ``recserve import`` too, with the same message.

This package imports only pydantic and the standard library, so the Python client can
share it without loading the server. Here: ids, timestamps, the stored resources (items,
users, feedback, relations) and the common envelopes; per resource beside it:
``scenarios`` (lists, groups, people, ranking), ``jobs``, ``models``, ``experiments``
and ``privacy``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

ID_MAX = 256
TEXT_MAX = 100_000
TITLE_MAX = 1_000
LABEL_MAX = 200  # one category or tag
LIST_MAX = 200  # categories or tags per row
ATTRIBUTES_MAX_KEYS = 200

T = TypeVar("T")

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")  # never allowed in an id


def _no_control_characters(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


# A client's id: 1-256 characters, no control characters, no surrounding whitespace.
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ID_MAX, strip_whitespace=False),
    AfterValidator(_no_control_characters),
]
Label = Annotated[
    str,
    StringConstraints(min_length=1, max_length=LABEL_MAX),
    AfterValidator(_no_control_characters),
]
FeedbackTypeName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]


EARLIEST_EVENT = 0.0  # 1970-01-01: events before Unix time are typos
EARLIEST_PUBLICATION = -5_364_662_400.0  # 1800-01-01: catalogues hold old films and books
LATEST = 7_258_118_400.0  # 2200-01-01: later is almost always milliseconds sent as seconds


def parse_timestamp(value: Any, earliest: float = EARLIEST_EVENT) -> float:
    """ISO 8601 text or Unix seconds (number or numeric text) to Unix seconds.

    Naive ISO times are taken as UTC. Times before ``earliest`` or after 2200 are refused:
    they are almost always milliseconds sent as seconds, or a typo.
    """
    if isinstance(value, bool):
        raise ValueError("timestamp must be ISO 8601 text or Unix seconds")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer of hundreds of digits
            seconds = math.inf
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("timestamp must be ISO 8601 text or Unix seconds") from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            seconds = parsed.timestamp()
    elif isinstance(value, datetime):
        seconds = (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    else:
        raise ValueError("timestamp must be ISO 8601 text or Unix seconds")
    if not math.isfinite(seconds) or not earliest <= seconds <= LATEST:
        first = datetime.fromtimestamp(0, tz=UTC) + timedelta(seconds=earliest)
        raise ValueError(
            f"timestamp must be between {first.year} and 2200 (Unix seconds, not milliseconds)"
        )
    return seconds


def _parse_publication(value: Any) -> float:
    return parse_timestamp(value, earliest=EARLIEST_PUBLICATION)


Timestamp = Annotated[float, BeforeValidator(parse_timestamp)]
PublicationTime = Annotated[float, BeforeValidator(_parse_publication)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def iso(seconds: float | None) -> str | None:
    """Unix seconds to ISO 8601 UTC text, for responses."""
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(0, tz=UTC) + timedelta(seconds=seconds)  # pre-1970 too
    return moment.isoformat().replace("+00:00", "Z")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=TEXT_MAX)


# items -----------------------------------------------------------------------------------


class ItemFields(_Input):
    title: Annotated[str, StringConstraints(max_length=TITLE_MAX)] | None = None
    text: Annotated[str, StringConstraints(max_length=TEXT_MAX)] | None = None
    categories: Annotated[list[Label], Field(max_length=LIST_MAX)] = Field(default_factory=list)
    tags: Annotated[list[Label], Field(max_length=LIST_MAX)] = Field(default_factory=list)
    attributes: Annotated[dict[str, Any], Field(max_length=ATTRIBUTES_MAX_KEYS)] = Field(
        default_factory=dict
    )
    published_at: PublicationTime | None = None
    hidden: bool = False


class ItemCreate(ItemFields):
    item_id: ExternalId


class ItemUpdate(_Input):
    """PATCH body: only the fields given are changed."""

    title: Annotated[str, StringConstraints(max_length=TITLE_MAX)] | None = None
    text: Annotated[str, StringConstraints(max_length=TEXT_MAX)] | None = None
    categories: Annotated[list[Label], Field(max_length=LIST_MAX)] | None = None
    tags: Annotated[list[Label], Field(max_length=LIST_MAX)] | None = None
    attributes: Annotated[dict[str, Any], Field(max_length=ATTRIBUTES_MAX_KEYS)] | None = None
    published_at: PublicationTime | None = None
    hidden: bool | None = None


class ItemPublic(BaseModel):
    item_id: str
    title: str | None
    text: str | None
    categories: list[str]
    tags: list[str]
    attributes: dict[str, Any]
    published_at: str | None
    hidden: bool
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ItemPublic:
        return cls(
            **{
                k: row[k]
                for k in ("item_id", "title", "text", "categories", "tags", "attributes", "hidden")
            },
            published_at=iso(row["published_at"]),
            created_at=iso(row["created_at"]) or "",
            updated_at=iso(row["updated_at"]) or "",
        )


# users -----------------------------------------------------------------------------------


class UserFields(_Input):
    attributes: Annotated[dict[str, Any], Field(max_length=ATTRIBUTES_MAX_KEYS)] = Field(
        default_factory=dict
    )
    tags: Annotated[list[Label], Field(max_length=LIST_MAX)] = Field(default_factory=list)


class UserCreate(UserFields):
    user_id: ExternalId


class UserUpdate(_Input):
    attributes: Annotated[dict[str, Any], Field(max_length=ATTRIBUTES_MAX_KEYS)] | None = None
    tags: Annotated[list[Label], Field(max_length=LIST_MAX)] | None = None


class UserPublic(BaseModel):
    user_id: str
    attributes: dict[str, Any]
    tags: list[str]
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> UserPublic:
        return cls(
            user_id=row["user_id"],
            attributes=row["attributes"],
            tags=row["tags"],
            created_at=iso(row["created_at"]) or "",
            updated_at=iso(row["updated_at"]) or "",
        )


# feedback and relations -----------------------------------------------------------------


class FeedbackCreate(_Input):
    """One event. ``type`` must be one of the configured feedback types (checked by the caller,
    which knows the settings); ``timestamp`` defaults to the time of ingestion."""

    user_id: ExternalId
    item_id: ExternalId
    type: FeedbackTypeName
    value: FiniteFloat | None = None
    timestamp: Timestamp | None = None
    event_id: ExternalId | None = None
    session_id: ExternalId | None = None
    recommendation_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class FeedbackPublic(BaseModel):
    event_id: str | None
    user_id: str
    item_id: str
    type: str
    value: float | None
    timestamp: str
    session_id: str | None
    recommendation_id: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FeedbackPublic:
        return cls(
            **{
                k: row[k] for k in ("event_id", "user_id", "item_id", "type", "value", "session_id")
            },
            recommendation_id=row["recommendation_id"],
            timestamp=iso(row["timestamp"]) or "",
        )


class RelationCreate(_Input):
    user_id: ExternalId
    other_user_id: ExternalId
    type: FeedbackTypeName = "friend"


class RelationPublic(BaseModel):
    user_id: str
    other_user_id: str
    type: str
    created_at: str


# responses ---------------------------------------------------------------------------------


class WriteResult(BaseModel):
    """Answer to a batch write."""

    accepted: int = Field(description="rows stored (new or replaced)")
    duplicates: int = Field(
        default=0, description="events skipped: their event_id was already stored"
    )


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int
    next_cursor: str | None


class ScoredItem(BaseModel):
    item_id: str
    score: float


class RecommendationResponse(BaseModel):
    user_id: str | None = None
    item_id: str | None = None
    items: list[ScoredItem]
    recommendation_id: str
    model: str


class ErrorBody(BaseModel):
    code: str = Field(description="stable, machine-readable error code")
    message: str = Field(description="what went wrong, for people")
    details: list[dict[str, Any]] | None = None


class HealthStatus(BaseModel):
    status: str = Field(description='"ok" while the process is up')


class ReadyStatus(BaseModel):
    status: str = Field(description='"ready"')
    database: bool
    models: dict[str, str] = Field(description="scenario -> served model version")


class SearchHit(BaseModel):
    item_id: str
    score: float = Field(description="fused relevance (reciprocal rank fusion), higher first")
    title: str | None = None
    categories: list[str] = Field(default_factory=list)
    lexical_rank: int | None = Field(default=None, description="1-based rank in word search")
    semantic_rank: int | None = Field(default=None, description="1-based rank by meaning")
    taste_rank: int | None = Field(
        default=None, description="1-based rank by the user's taste (with user_id)"
    )


class SearchResponse(BaseModel):
    query: str
    items: list[SearchHit]
    semantic: str = Field(
        description='"ready"; "building" while item vectors are first encoded (word search '
        'only meanwhile); "off" above search_semantic_max_items'
    )
    user_id: str | None = None
    model: str | None = Field(default=None, description="the model whose taste ordered it")
