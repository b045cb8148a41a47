"""Training runs: store snapshot -> dataset -> fit -> evaluate -> registry."""

from recserve.training.pipeline import DEFAULT_MODELS, TrainingReport, train_default_models

__all__ = ["DEFAULT_MODELS", "TrainingReport", "train_default_models"]
