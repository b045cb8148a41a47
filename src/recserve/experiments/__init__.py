"""A/B experiments: variants of a serving scenario (model versions or other scenarios'
champions) split by a stable hash of the user id, every list served under one logged, and
online metrics (CTR, conversion, with confidence intervals) attributed from later events
that carry the list's ``recommendation_id``. See docs/experiments.md."""

from recserve.experiments.assignment import bucket, choose_variant
from recserve.experiments.definition import (
    CONTROL,
    Experiment,
    InvalidExperiment,
    Variant,
)
from recserve.experiments.metrics import experiment_metrics
from recserve.experiments.router import Arm, ExperimentRouter

__all__ = [
    "CONTROL",
    "Arm",
    "Experiment",
    "ExperimentRouter",
    "InvalidExperiment",
    "Variant",
    "bucket",
    "choose_variant",
    "experiment_metrics",
]
