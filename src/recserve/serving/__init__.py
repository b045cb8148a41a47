"""Answering requests from the registry's champions and the store's live state."""

from recserve.serving.engine import ServingEngine
from recserve.serving.filters import FilterError, parse_filter
from recserve.serving.options import ListOptions
from recserve.serving.served import ModelNotReady, RecommendationList

__all__ = [
    "FilterError",
    "ListOptions",
    "ModelNotReady",
    "RecommendationList",
    "ServingEngine",
    "parse_filter",
]
