"""Model selection for training jobs: the holdout split, the evaluation and the promotion rule.

Every candidate and the current champion of each scenario are scored on the same split
(the champion refitted from its family and config on the same train part, since its
artifact was fitted on other data), so the comparison measures the model, not the data.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from recserve.algorithms import Recommender
from recserve.data import Dataset
from recserve.data.dataset import POSITIVE
from recserve.evaluation import Split, evaluate_ranking
from recserve.evaluation.ranking import DEFAULT_EVAL_USERS, DEFAULT_SAMPLE_SEED
from recserve.registry import ArtifactError, ModelRegistry

PromoteMode = Literal["if_better", "always", "never"]
PROMOTE_MODES: tuple[str, ...] = ("if_better", "always", "never")
PRIMARY_METRIC = "ndcg@10"
METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")
HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 0


def per_user_holdout(
    data: Dataset, test_fraction: float = HOLDOUT_FRACTION, seed: int = HOLDOUT_SEED
) -> Split:
    """Per user, a seeded random ``test_fraction`` of their positive events is the test part.

    A user with at least two positive events gives at least one and keeps at least one in
    train; users with fewer, and every non-positive event, stay in train. Random rather
    than latest events, so non-sequential scenarios (popular, similar items) are scored
    on the same footing as sequential ones.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    index = np.flatnonzero((data.kind == POSITIVE) & (data.user >= 0) & (data.item >= 0))
    key = np.random.default_rng(seed).random(len(index))
    order = index[np.lexsort((key, data.user[index]))]
    user = data.user[order]
    test = np.zeros(len(data), dtype=bool)
    if len(order):
        starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])
        counts = np.diff(np.r_[starts, len(user)])
        count = np.repeat(counts, counts)
        rank = np.arange(len(user)) - np.repeat(starts, counts)
        take = np.where(count >= 2, np.clip(np.floor(test_fraction * count + 0.5), 1, count - 1), 0)
        test[order[rank < take]] = True
    params = {"test_fraction": test_fraction, "seed": seed}
    return Split(
        train=data.subset(~test), test=data.subset(test), name="per_user_holdout", params=params
    )


def split_record(split: Split) -> dict[str, Any]:
    """What a manifest records about the split its metrics were measured on."""
    return {
        "name": split.name,
        "params": dict(split.params),
        "train_events": len(split.train),
        "test_events": len(split.test),
        "primary_metric": PRIMARY_METRIC,
    }


def evaluate(model: Recommender[Any], split: Split) -> dict[str, float]:
    """Ranking metrics at 10 of a model fitted on ``split.train`` (NaN made None-free: 0),
    over a seeded sample of at most ``DEFAULT_EVAL_USERS`` test users (the same for every
    candidate and the champion, so they are compared on the same users)."""
    result = evaluate_ranking(
        model,
        split,
        k=10,
        metrics=METRICS,
        max_users=DEFAULT_EVAL_USERS,
        sample_seed=DEFAULT_SAMPLE_SEED,
    )
    return {
        k: (0.0 if isinstance(v, float) and math.isnan(v) else float(v)) for k, v in result.items()
    }


def score(metrics: dict[str, float] | None) -> float:
    """The primary metric, or -inf when it is missing."""
    if not metrics or PRIMARY_METRIC not in metrics:
        return -math.inf
    return float(metrics[PRIMARY_METRIC])


@dataclass(frozen=True)
class Contender:
    """A candidate of this job for one scenario."""

    name: str
    metrics: dict[str, float]
    family: str
    config: dict[str, Any]


log = logging.getLogger(__name__)


def champion_manifest(registry: ModelRegistry, ref: str) -> dict[str, Any] | None:
    """The manifest of champion ``ref`` with its ``family`` and ``config`` checked; None
    (logged) when it cannot be read, so a candidate may replace the champion."""
    name, version = ref.split("/", 1)
    try:
        manifest = registry.manifest(name, version)
        manifest["config"] = dict(manifest["config"])
        manifest["family"] = str(manifest["family"])
    except (ArtifactError, KeyError, TypeError) as exc:
        log.warning("champion %s cannot be read (%s): a candidate may replace it", ref, exc)
        return None
    return manifest


@dataclass(frozen=True)
class Incumbent:
    """The scenario's current champion, scored on the same split (None: could not be)."""

    ref: str
    metrics: dict[str, float] | None
    family: str | None
    config: dict[str, Any] | None
    data: dict[str, Any] | None  # the champion's data statistics


@dataclass(frozen=True)
class Decision:
    winner: str | None  # the candidate name promoted, None: the champion stays
    reason: str
    challenger: str | None = None  # the best candidate, whether or not it won


def same_data(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Whether two snapshots' statistics match (when they were taken does not count)."""
    if a is None or b is None:
        return False
    return {k: v for k, v in a.items() if k != "snapshot_at"} == {
        k: v for k, v in b.items() if k != "snapshot_at"
    }


def decide(
    scenario: str,
    contenders: Sequence[Contender],
    incumbent: Incumbent | None,
    mode: PromoteMode,
    data_stats: dict[str, Any],
) -> Decision:
    """Which candidate (if any) becomes the champion of ``scenario``.

    The best candidate by ``ndcg@10`` (the first listed on a tie) challenges the champion.
    ``if_better`` promotes it only when it scores strictly higher: a tie keeps the champion.
    One exception: a candidate with the champion's own family and config is the same model
    refitted on newer data, so it replaces the champion unless the data is unchanged.
    """
    if not contenders:
        return Decision(None, "no candidate for this scenario")
    best = max(contenders, key=lambda c: score(c.metrics))  # max keeps the first on ties
    best_text = f"{PRIMARY_METRIC} {score(best.metrics):.4f}"
    if mode == "never":
        return Decision(None, "promotion disabled (promote=never)", best.name)
    if mode == "always":
        return Decision(
            best.name, f"promote=always; best candidate for {scenario} ({best_text})", best.name
        )
    if incumbent is None:
        return Decision(best.name, f"no champion yet ({best_text})", best.name)
    if incumbent.metrics is None:
        return Decision(
            best.name, f"champion {incumbent.ref} could not be evaluated ({best_text})", best.name
        )
    champion_text = f"champion {incumbent.ref} {score(incumbent.metrics):.4f}"
    if score(best.metrics) > score(incumbent.metrics):
        return Decision(best.name, f"{best_text} beats {champion_text}", best.name)
    same = (best.family, best.config) == (incumbent.family, incumbent.config)
    if same and score(best.metrics) >= score(incumbent.metrics):
        if same_data(incumbent.data, data_stats):
            return Decision(None, f"same config and same data as {incumbent.ref}", best.name)
        return Decision(
            best.name, f"same config as {incumbent.ref}, refitted on newer data", best.name
        )
    return Decision(None, f"{best_text} does not beat {champion_text}", best.name)
