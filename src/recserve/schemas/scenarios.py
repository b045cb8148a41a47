"""Request and response shapes of the scenario endpoints (lists with explanations, groups,
people, sessions, candidate ranking)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from recserve.schemas import ExternalId

MAX_CANDIDATES = 1000


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


class ListItem(BaseModel):
    item_id: str
    score: float
    pinned: bool = False
    explanation: Explanation | None = None


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


class Group(BaseModel):
    anchor_item_id: str = Field(description="A recent positive item of the user")
    items: list[ListItem]


class GroupsResponse(BaseModel):
    user_id: str
    groups: list[Group]
    recommendation_id: str
    model: str


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


class RankResponse(BaseModel):
    user_id: str
    items: list[RankedItem]
    recommendation_id: str
    model: str
