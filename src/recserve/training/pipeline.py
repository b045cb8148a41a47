"""The default training pipeline: one snapshot of the store, each default model fitted on it,
registered as a new version and promoted to the scenarios it serves."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from recserve.algorithms import create
from recserve.config import FeedbackType
from recserve.data import Dataset
from recserve.registry import ModelRegistry
from recserve.store import Store

log = logging.getLogger(__name__)

# name -> (family, hyperparameters, scenarios it is promoted to)
DEFAULT_MODELS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "popular": ("popular", {"half_life_days": None}, ("popular",)),
    "item_knn": (
        "item_knn",
        {"similarity": "cosine", "neighbours": 100},
        ("recommended", "similar_items"),
    ),
}


@dataclass
class TrainingReport:
    snapshot_seconds: float
    data_stats: dict[str, int]
    models: dict[str, dict[str, Any]] = field(default_factory=dict)


def dataset_stats(data: Dataset) -> dict[str, int]:
    return {
        "users": data.n_users,
        "items": data.n_items,
        "events": len(data),
        "positive_pairs": int(data.positive_matrix().nnz),
    }


def train_default_models(
    store: Store,
    registry: ModelRegistry,
    feedback_types: Mapping[str, FeedbackType],
    *,
    models: Mapping[str, tuple[str, dict[str, Any], tuple[str, ...]]] = DEFAULT_MODELS,
    promote: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TrainingReport:
    """Fit every model in ``models`` on one snapshot and (by default) promote each."""
    start = time.perf_counter()
    data = Dataset.from_store(store, feedback_types)
    report = TrainingReport(time.perf_counter() - start, dataset_stats(data))
    if len(data) == 0:
        raise ValueError("the store holds no feedback events yet: import or post some first")
    for name, (family, params, scenarios) in models.items():
        if progress:
            progress(name)
        t0 = time.perf_counter()
        model = create(family, **params).fit(data)
        fit_seconds = time.perf_counter() - t0
        version = registry.register(name, model, data_stats=report.data_stats)
        if promote:
            for scenario in scenarios:
                registry.promote(scenario, name, version.version)
        report.models[name] = {"version": version.version, "fit_seconds": fit_seconds}
        log.info("trained %s %s in %.2fs", name, version.version, fit_seconds)
    return report
