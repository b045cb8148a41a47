"""Request and response shapes of the scenario endpoints (lists with explanations, groups,
people, sessions, candidate ranking)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from recserve.schemas import ExternalId

MAX_CANDIDATES = 1000
# The stored item fields a list can carry per entry (``fields=title,tags``).
DETAIL_FIELDS = (
    "title",
    "text",
    "categories",
    "tags",
    "attributes",
    "published_at",
    "created_at",
    "updated_at",
)


class Reason(BaseModel):
    item_id: str
    weight: float


class Explanation(BaseModel):
    reason: str = Field(
        description="history (the user's items that contributed), similar_to_history, "
        "similar_to (the anchor item), bought_together, pinned, popular, trending, latest; "
        "query (matches the text query), query_and_taste (and the user's taste ranks it)"
    )
    items: list[Reason] = Field(default_factory=list)
    detail: str | None = Field(default=None, description="The reason in words, where given")


class ItemDetails(BaseModel):
    """The stored fields of a listed item that the request named in ``fields``; only those
    are in the answer (a named field without a value is ``null``)."""

    title: str | None = None
    text: str | None = None
    categories: list[str] | None = None
    tags: list[str] | None = None
    attributes: dict[str, Any] | None = None
    published_at: str | None = Field(default=None, description="ISO 8601 UTC")
    created_at: str | None = Field(default=None, description="ISO 8601 UTC")
    updated_at: str | None = Field(default=None, description="ISO 8601 UTC")

    @model_serializer(mode="wrap")
    def _named_only(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)
        return {k: v for k, v in dumped.items() if k in self.model_fields_set}


class ListItem(BaseModel):
    item_id: str
    score: float
    pinned: bool = False
    explanation: Explanation | None = None
    details: ItemDetails | None = Field(
        default=None,
        description="The item's fields named in the request's ``fields`` (null without it, "
        "or when the item was deleted meanwhile)",
    )


REASON_DESCRIPTION = (
    "Why the list is empty or shorter than asked (null when it is full): no_history, "
    "no_content, filtered, no_more_items (docs/api-guide.md, Empty and short lists)"
)


class ListResponse(BaseModel):
    user_id: str | None = None
    item_id: str | None = None
    session_id: str | None = None
    items: list[ListItem]
    offset: int = 0
    recommendation_id: str
    model: str
    experiment: str | None = Field(
        default=None, description="The A/B experiment this list was served under, if any"
    )
    variant: str | None = Field(default=None, description="The user's variant in it")
    reason: str | None = Field(default=None, description=REASON_DESCRIPTION)


class Group(BaseModel):
    anchor_item_id: str = Field(description="A recent positive item of the user")
    items: list[ListItem]
    reason: str | None = Field(default=None, description=REASON_DESCRIPTION)


class GroupsResponse(BaseModel):
    user_id: str
    groups: list[Group]
    recommendation_id: str
    model: str
    reason: str | None = Field(
        default=None, description="no_history when there is no group (null otherwise)"
    )


class ScoredUser(BaseModel):
    user_id: str
    score: float


class PeopleResponse(BaseModel):
    user_id: str
    users: list[ScoredUser]
    recommendation_id: str
    model: str = Field(description='The champion, or "friends_of_friends" without one')


class ItemIdsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_ids: list[ExternalId] = Field(min_length=1, max_length=MAX_CANDIDATES)


class RankedItem(BaseModel):
    item_id: str
    score: float | None = Field(description="None: the model does not know the item (last)")
    details: ItemDetails | None = Field(
        default=None, description="The item's fields named in the request's ``fields``"
    )


class RankResponse(BaseModel):
    user_id: str
    items: list[RankedItem]
    recommendation_id: str
    model: str
