"""Answering requests from the registry's champions and the store's live state."""

from recserve.serving.engine import ModelNotReady, RecommendationList, ServingEngine
from recserve.serving.filters import FilterError, parse_filter
from recserve.serving.options import ListOptions

__all__ = [
    "FilterError",
    "ListOptions",
    "ModelNotReady",
    "RecommendationList",
    "ServingEngine",
    "parse_filter",
]
