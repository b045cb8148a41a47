"""Answering requests from the registry's champions and the store's live state."""

from recserve.serving.engine import ModelNotReady, RecommendationList, ServingEngine

__all__ = ["ModelNotReady", "RecommendationList", "ServingEngine"]
