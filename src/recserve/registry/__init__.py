"""Versioned model artifacts on disk and the champion serving each scenario."""

from recserve.registry.registry import (
    ArtifactError,
    ModelRegistry,
    ModelVersion,
    NoPreviousChampion,
)

__all__ = ["ArtifactError", "ModelRegistry", "ModelVersion", "NoPreviousChampion"]
