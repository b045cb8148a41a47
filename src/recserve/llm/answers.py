"""The shapes the LLM must answer in: a JSON schema sent as ``response_format`` (so servers
with constrained decoding can only produce it) and a strict pydantic model that checks the
answer again (so a server without it cannot slip anything else through)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Lengths in characters. A call's ``max_tokens`` covers the longest answer its schema
# allows even at one token per character (a model with byte tokens), so a schema-bound
# server never has its answer cut.
SUMMARY_MAX = 240  # a list's explanation, an item's summary
WHY_MAX = 120  # one item's reason
TAG_MAX = 40
THEME_MAX = 60


def _ids_tokens(ids: Sequence[str], each: int) -> int:
    return 32 + sum(len(i) + each for i in ids)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Ranking(Strict):
    ranking: list[str] = Field(max_length=100)


class Reason(Strict):
    item_id: str
    why: str = Field(max_length=WHY_MAX)


class ListExplanation(Strict):
    summary: str = Field(max_length=SUMMARY_MAX)
    reasons: list[Reason] = Field(max_length=100)


class Themes(Strict):
    themes: list[str] = Field(min_length=1, max_length=3)

    @field_validator("themes")
    @classmethod
    def _short(cls, value: list[str]) -> list[str]:
        if any(len(t) > THEME_MAX for t in value):
            raise ValueError(f"a theme has at most {THEME_MAX} characters")
        return value


class Enrichment(Strict):
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX)
    tags: list[str] = Field(max_length=8)

    @field_validator("tags")
    @classmethod
    def _short(cls, value: list[str]) -> list[str]:
        if any(not 0 < len(t) <= TAG_MAX for t in value):
            raise ValueError(f"a tag has 1 to {TAG_MAX} characters")
        return value


@dataclass(frozen=True)
class AnswerSpec:
    """What one kind of call expects back: its schema, its checker and a token cap."""

    name: str
    schema: dict[str, Any]
    model: type[Strict]
    max_tokens: int


def _strings(max_length: int, max_items: int, min_items: int = 0) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": max_length},
        "minItems": min_items,
        "maxItems": max_items,
    }


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def ranking_spec(candidate_ids: Sequence[str]) -> AnswerSpec:
    """An ordered list of candidate ids; the schema names the candidates as an enum."""
    ids = list(candidate_ids)
    array = {"type": "array", "items": {"type": "string", "enum": ids}, "maxItems": len(ids)}
    return AnswerSpec("ranking", _object({"ranking": array}), Ranking, _ids_tokens(ids, 4))


def explanation_spec(item_ids: Sequence[str]) -> AnswerSpec:
    reason = _object(
        {
            "item_id": {"type": "string", "enum": list(item_ids)},
            "why": {"type": "string", "maxLength": WHY_MAX},
        }
    )
    schema = _object(
        {
            "summary": {"type": "string", "maxLength": SUMMARY_MAX},
            "reasons": {"type": "array", "items": reason, "maxItems": len(item_ids)},
        }
    )
    tokens = SUMMARY_MAX + _ids_tokens(item_ids, WHY_MAX + 24)
    return AnswerSpec("explanation", schema, ListExplanation, tokens)


THEMES = AnswerSpec(
    "themes", _object({"themes": _strings(THEME_MAX, 3, 1)}), Themes, 32 + 3 * (THEME_MAX + 4)
)
ENRICHMENT = AnswerSpec(
    "enrichment",
    _object(
        {
            "summary": {"type": "string", "minLength": 1, "maxLength": SUMMARY_MAX},
            "tags": _strings(TAG_MAX, 8),
        }
    ),
    Enrichment,
    32 + SUMMARY_MAX + 8 * (TAG_MAX + 4),
)
