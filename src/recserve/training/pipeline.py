"""The default model set and the plain training pipeline: one snapshot of the store, each
default model fitted on it, registered as a new version and promoted to its scenarios.

Training jobs (``recserve.training.jobs``) add a holdout evaluation and the promotion rule
on top; ``train_default_models`` is the quick path without evaluation (tests, first runs).
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from recserve.algorithms import FAMILIES, create
from recserve.config import FeedbackType
from recserve.data import Dataset
from recserve.registry import ModelRegistry
from recserve.store import Store

log = logging.getLogger(__name__)

ModelSpec = tuple[str, dict[str, Any], tuple[str, ...]]

# name -> (family, hyperparameters, scenarios it is a candidate for). When two models list
# the same scenario, a training job promotes the better one on the holdout; the plain
# pipeline promotes the first listed.
DEFAULT_MODELS: dict[str, ModelSpec] = {
    "popular": ("popular", {"half_life_days": None}, ("popular",)),
    "trending": ("trending", {}, ("trending",)),
    "latest": ("latest", {}, ("latest",)),
    "item_knn": (
        "item_knn",
        {"similarity": "cosine", "neighbours": 100},
        ("recommended", "similar_items", "because_you_liked"),
    ),
    "cooccurrence": (
        "cooccurrence",
        {"session_gap_minutes": 30},
        ("frequently_bought_together",),
    ),
    "ease": ("ease", {"regularization": 500.0}, ("recommended",)),
}
if "social" in FAMILIES:  # the friend-graph family; trained only when the data has relations
    DEFAULT_MODELS["social"] = ("social", {}, ("people_you_may_know",))

# Trained only when asked for by name (``--models gru4rec``): GRU4Rec needs torch and takes
# minutes on the demo data (2 CPU cores), far over the ~30 s the default run should take.
OPTIONAL_MODELS: dict[str, ModelSpec] = {
    "gru4rec": ("gru4rec", {"session_gap_minutes": 30}, ("session",)),
}

# Families that need something in the data beyond events.
NEEDS_RELATIONS = frozenset({"social"})
NEEDS_TORCH = frozenset({"gru4rec", "sasrec", "hstu", "two_tower", "fm_ranker"})


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def has_relations(data: Dataset) -> bool:
    return data.relations is not None and len(data.relations[0]) > 0


def applicable(family: str, data: Dataset, params: Mapping[str, Any] | None = None) -> bool:
    """Whether ``family`` can be trained on ``data``: the social model needs relations, torch
    models need torch, and a model with a size cap (EASE's dense item-item matrix:
    ``max_items``) is left out of catalogues above it rather than failing the whole run."""
    if family not in FAMILIES or (family in NEEDS_TORCH and not torch_available()):
        return False
    if family in NEEDS_RELATIONS and not has_relations(data):
        return False
    config = FAMILIES[family].config_class(**(params or {}))
    return data.n_items <= getattr(config, "max_items", data.n_items)


def select_models(
    wanted: Iterable[str] | None = None,
    scenarios: Iterable[str] | None = None,
    models: Mapping[str, ModelSpec] = DEFAULT_MODELS,
) -> dict[str, ModelSpec]:
    """The models a run trains: by name or family (all when ``wanted`` is None), restricted
    to ``scenarios`` when given. Unknown names raise ``ValueError`` naming the known ones."""
    chosen = dict(models)
    if wanted is not None:
        wanted = list(dict.fromkeys(wanted))
        models = {**OPTIONAL_MODELS, **models}
        unknown = [w for w in wanted if w not in models and w not in FAMILIES]
        if unknown:
            raise ValueError(
                f"unknown model(s) {unknown}; default models: {sorted(models)}, "
                f"families: {sorted(FAMILIES)}"
            )
        chosen = {}
        for w in wanted:
            if w in models:
                chosen[w] = models[w]
            else:  # a family: its default models, or the family with default parameters
                named = {n: spec for n, spec in models.items() if spec[0] == w}
                chosen.update(named or {w: (w, {}, ("recommended",))})
    if scenarios is not None:
        keep = set(scenarios)
        chosen = {
            name: (family, params, tuple(s for s in served if s in keep))
            for name, (family, params, served) in chosen.items()
            if keep & set(served)
        }
    return chosen


@dataclass
class TrainingReport:
    snapshot_seconds: float
    data_stats: dict[str, Any]
    models: dict[str, dict[str, Any]] = field(default_factory=dict)


def dataset_stats(data: Dataset) -> dict[str, Any]:
    """What a manifest records about the snapshot a model was trained on."""
    return {
        "users": data.n_users,
        "items": data.n_items,
        "events": len(data),
        "positive_pairs": int(data.positive_matrix().nnz),
        "last_event_at": float(data.timestamp.max()) if len(data) else None,
        "relations": len(data.relations[0]) if data.relations is not None else 0,
    }


def snapshot(store: Store, feedback_types: Mapping[str, FeedbackType]) -> Dataset:
    """The store's data as one dataset; ``ValueError`` when it holds no events yet."""
    data = Dataset.from_store(store, feedback_types)
    if len(data) == 0:
        raise ValueError("the store holds no feedback events yet: import or post some first")
    return data


def snapshot_with_stats(
    store: Store, feedback_types: Mapping[str, FeedbackType]
) -> tuple[Dataset, dict[str, Any]]:
    """:func:`snapshot` and its statistics, with ``snapshot_at`` (when the read began: the
    privacy code uses it to tell whether a deleted user may be in a model)."""
    taken_at = time.time()
    data = snapshot(store, feedback_types)
    return data, {**dataset_stats(data), "snapshot_at": taken_at}


def train_default_models(
    store: Store,
    registry: ModelRegistry,
    feedback_types: Mapping[str, FeedbackType],
    *,
    models: Mapping[str, ModelSpec] = DEFAULT_MODELS,
    promote: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TrainingReport:
    """Fit every model in ``models`` on one snapshot and (by default) promote each to its
    scenarios, without evaluation; a scenario goes to the first model that lists it."""
    start = time.perf_counter()
    data, stats = snapshot_with_stats(store, feedback_types)
    report = TrainingReport(time.perf_counter() - start, stats)
    taken: set[str] = set()
    for name, (family, params, scenarios) in models.items():
        if not applicable(family, data, params):
            continue
        if progress:
            progress(name)
        t0 = time.perf_counter()
        model = create(family, **params).fit(data)
        fit_seconds = time.perf_counter() - t0
        version = registry.register(
            name, model, data_stats=report.data_stats, extra={"fitted_on": "all"}
        )
        promoted = [s for s in scenarios if s not in taken] if promote else []
        for scenario in promoted:
            registry.promote(scenario, name, version.version)
        taken.update(promoted)
        report.models[name] = {
            "version": version.version,
            "fit_seconds": fit_seconds,
            "promoted": promoted,
        }
        log.info("trained %s %s in %.2fs", name, version.version, fit_seconds)
    return report
