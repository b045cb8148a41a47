"""What serving modules share: scenario names, a served model, a list of items.

The engine, the scenarios, batch export, the experiments router and the API all speak
these types; keeping them here lets each of those import them without importing the others.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from recserve.algorithms import Recommender
from recserve.registry import ModelVersion
from recserve.serving.allowed import BlockedItems
from recserve.serving.explain import Explanation

# Every scenario a champion can be promoted to, and the scenario each falls back to.
SCENARIOS = (
    "recommended",
    "similar_items",
    "frequently_bought_together",
    "because_you_liked",
    "popular",
    "trending",
    "latest",
    "people_you_may_know",
    "session",
)
FALLBACK = {
    "recommended": "popular",
    "frequently_bought_together": "similar_items",
    "because_you_liked": "similar_items",
    "session": "similar_items",
}
# The scenarios the service needs before it reports ready; the others have fallbacks or
# answer 503 until trained.
REQUIRED_SCENARIOS = ("recommended", "similar_items", "popular")
# The scenarios whose champion answers through ``similar_items`` (the session scenario's
# neighbour fallback is the similar_items champion): they get a neighbour index at scale.
NEIGHBOUR_SCENARIOS = frozenset(
    {"similar_items", "frequently_bought_together", "because_you_liked"}
)
# The scenarios whose champion answers through its own top-n: they get a candidate index.
TOP_N_SCENARIOS = frozenset(SCENARIOS) - NEIGHBOUR_SCENARIOS - {"people_you_may_know"}


class ModelNotReady(RuntimeError):
    """No champion has been trained and promoted for the scenario yet."""


@dataclass(frozen=True)
class ServedModel:
    version: ModelVersion
    model: Recommender[Any]
    blocked: BlockedItems  # model items hidden or deleted since training

    @property
    def ref(self) -> str:
        return self.version.ref


@dataclass(frozen=True)
class RecommendationList:
    item_ids: list[str]
    scores: list[float]
    model: str
    recommendation_id: str
    explanations: list[Explanation] | None = None  # with ``explain``: one per item
    pinned: frozenset[str] = frozenset()  # items placed by a pin rule
    experiment: str | None = None  # served under this A/B experiment ...
    variant: str | None = None  # ... as this variant (recserve.experiments)
    reason: str | None = None  # why the list is shorter than asked (serving/reasons.py)


def new_recommendation_id() -> str:
    return uuid.uuid4().hex
