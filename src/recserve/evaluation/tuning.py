"""Hyperparameter search with Optuna inside a time budget, without touching the test set.

The search runs on a validation split carved out of the *training* part (with the same
splitter that made the test split), so the test figures of the tuned model stay honest.
The defaults are always evaluated first: tuning never returns something worse on the
validation split than the untuned model.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recserve.algorithms import FAMILIES, Recommender
from recserve.data import Dataset
from recserve.evaluation.protocol import evaluate_ranking, evaluate_ratings
from recserve.evaluation.splitters import Split

log = logging.getLogger(__name__)

# Metrics where lower is better; everything else is maximised.
MINIMISED = {"rmse", "mae"}


@dataclass(frozen=True)
class TrialResult:
    params: dict[str, Any]
    value: float
    seconds: float


@dataclass
class TuningResult:
    family: str  # the family name, or the class name for an unregistered model
    metric: str
    best_params: dict[str, Any]
    best_value: float
    default_value: float
    trials: list[TrialResult] = field(default_factory=list)
    seconds: float = 0.0


Family = str | type[Recommender[Any]]


def _model_class(family: Family) -> type[Recommender[Any]]:
    return FAMILIES[family] if isinstance(family, str) else family


def score_model(family: Family, params: dict[str, Any], split: Split, metric: str) -> float:
    """Fit on ``split.train`` and return ``metric`` on ``split.test`` (e.g. "ndcg@10", "rmse").

    ``family`` is a registered family name or a model class (peers in benchmarks).
    """
    model = _model_class(family)(**params).fit(split.train)
    if metric in MINIMISED:
        return float(evaluate_ratings(model, split)[metric])
    name, _, k = metric.partition("@")
    return float(evaluate_ranking(model, split, k=int(k), metrics=(name,))[metric])


def has_search_space(family: Family) -> bool:
    """Whether the family's config declares anything to tune."""
    import optuna

    try:  # a FixedTrial without values raises for the first parameter it is asked for
        _model_class(family).config_class.search_space(optuna.trial.FixedTrial({}))
    except ValueError:
        return True
    return False


def tune(
    family: Family,
    train: Dataset,
    make_split: Callable[[Dataset], Split],
    *,
    metric: str = "ndcg@10",
    budget_seconds: float = 60.0,
    max_trials: int = 50,
    base_params: dict[str, Any] | None = None,
    seed: int = 0,
) -> TuningResult:
    """Search ``family``'s ``search_space`` for the best ``metric`` on a validation split.

    ``make_split`` turns the training data into (validation-train, validation) parts; the
    search stops at ``budget_seconds`` or ``max_trials``, whichever comes first.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    base = dict(base_params or {})
    validation = make_split(train)
    minimise = metric in MINIMISED
    default_value = score_model(family, base, validation, metric)
    name = family if isinstance(family, str) else family.__name__
    result = TuningResult(name, metric, base, default_value, default_value)
    config_class = _model_class(family).config_class

    def objective(trial: optuna.Trial) -> float:
        params = {**config_class.search_space(trial), **base}  # fixed ones stay fixed
        t0 = time.perf_counter()
        value = score_model(family, params, validation, metric)
        result.trials.append(TrialResult(params, value, time.perf_counter() - t0))
        return value

    remaining = budget_seconds - (time.perf_counter() - start)
    if has_search_space(family) and remaining > 0 and max_trials > 0:
        study = optuna.create_study(
            direction="minimize" if minimise else "maximize",
            sampler=optuna.samplers.TPESampler(seed=seed),
        )
        study.optimize(objective, n_trials=max_trials, timeout=remaining, catch=(ValueError,))
        finished = [t for t in result.trials if math.isfinite(t.value)]
        if finished:
            best = (min if minimise else max)(finished, key=lambda t: t.value)
            if (best.value < default_value) if minimise else (best.value > default_value):
                result.best_params, result.best_value = best.params, best.value
    result.seconds = time.perf_counter() - start
    log.info(
        "tuned %s: %s %.4f (defaults %.4f) in %d trials, %.1fs",
        family,
        metric,
        result.best_value,
        default_value,
        len(result.trials),
        result.seconds,
    )
    return result
