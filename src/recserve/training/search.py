"""The model search a training job runs for the ``recommended`` scenario, inside a budget.

* **Validation**: each user's latest positive event of the data it is given (the job gives
  the train part of its holdout, so the holdout is never seen here), for up to
  ``MAX_VALIDATION_USERS`` seeded users; every trial is scored by NDCG@10 on it with full
  ranking.
* **Order**: a first round fits every applicable family once, cheap strong ones first
  (``candidates.SEARCH_ORDER``); the current champion's family goes first, at the
  champion's configuration (warm start). Then successive halving over families: the
  first round gives every family (torch ones only when among the best three) a few
  Optuna (TPE) trials of its config's ``search_space``; each round the better half goes
  on with twice as many, down to one family, tuned on until time is up or nothing improves any more.
* **Pruning**: a trial is first scored on a third of the validation users and stopped
  there when Optuna's median pruner says it is behind the family's earlier trials.
* **Budget**: a trial starts only when its expected time (the family's last trial) fits in
  what is left, keeping a reserve for the job's holdout fit. A neural trial trains with
  its own early stopping under a time limit of ``NEURAL_SHARE`` of what is left (the
  trainer stops at the limit and keeps its best epoch), and starts only when that is at
  least ``NEURAL_MIN_SECONDS``. Its reported parameters fix the epoch count it found
  best, so the job's fits of the winner train that many epochs on all they are given.
* **Ensemble**: the best trials of the two best families, fused by rank (``hybrid``) at
  three weightings, are three more trials, scored without refitting the members (up to
  ``ENSEMBLE_MAX_ITEMS`` items: the fusion ranks every item densely).
* **Failures**: a family that raises is recorded (state ``failed`` with the error) and
  dropped; the search goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from recserve.algorithms import FAMILIES, Recommender, create
from recserve.data import Dataset
from recserve.data.dataset import POSITIVE
from recserve.evaluation import Split, evaluate_ranking
from recserve.evaluation.splitters import latest_per_user
from recserve.training.candidates import (
    MIN_ORDERED_SHARE,
    NEURAL,
    ordered_share,
    search_families,
)

log = logging.getLogger(__name__)

METRIC = "ndcg@10"
MAX_VALIDATION_USERS = 5_000
PRUNE_SHARE = 1 / 3  # validation users scored before the pruner is asked
SURVIVORS = 3  # torch families go on to tuning only when among this many best
PATIENCE = 25  # trials without a better one before the search stops early
TRIALS_PER_ROUND = 3  # per surviving family in the first tuning round; doubles as they halve
NEURAL_SHARE = 0.6  # at most this share of the time left goes to one neural trial
NEURAL_MIN_SECONDS = 20.0  # a neural trial with less time than this would learn little
# the fusion of the two best families is scored at these weightings (the better one first)
ENSEMBLE_WEIGHTS: tuple[tuple[float, float], ...] = ((1.0, 1.0), (2.0, 1.0), (1.0, 2.0))
# the fusion ranks every item densely per member: minutes per trial at a million items
ENSEMBLE_MAX_ITEMS = 100_000
TrialState = Literal["complete", "pruned", "failed"]
Progress = Callable[[float, str], None]


@dataclass
class Trial:
    """One configuration the search fitted and scored on the validation split."""

    number: int
    family: str
    params: dict[str, Any]
    source: str  # warm_start, default, tuned, ensemble
    state: TrialState = "complete"
    value: float | None = None  # validation NDCG@10 (on the first third when pruned)
    seconds: float = 0.0
    error: str | None = None


@dataclass
class SearchResult:
    budget_seconds: float
    seconds: float = 0.0
    validation: dict[str, Any] = field(default_factory=dict)
    families: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    trials: list[Trial] = field(default_factory=list)
    warm_start: dict[str, Any] | None = None

    @property
    def best(self) -> Trial | None:
        done = [t for t in self.trials if t.state == "complete" and t.value is not None]
        return max(done, key=lambda t: t.value or 0.0) if done else None  # first on ties

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "metric": METRIC,
            "budget_seconds": self.budget_seconds,
            "seconds": self.seconds,
            "validation": self.validation,
            "families": self.families,
            "skipped": self.skipped,
            "warm_start": self.warm_start,
            "best_trial": None if best is None else best.number,
            "trials": [asdict(t) for t in self.trials],
        }


# -- the validation split ---------------------------------------------------------------------


def events_digest(data: Dataset) -> str:
    """A fingerprint of a split part's events (external user and item ids, timestamps), so a
    report can show which events a part held without listing them."""
    users = data.users.ids[data.user]
    items = data.items.ids[data.item]
    rows = sorted(zip(users.tolist(), items.tolist(), data.timestamp.tolist(), strict=True))
    text = "\n".join(f"{u}\t{i}\t{t:.3f}" for u, i, t in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def validation_split(
    data: Dataset,
    max_users: int = MAX_VALIDATION_USERS,
    seed: int = 0,
    share: float | None = None,
) -> Split:
    """Each user's latest positive event is the validation target (users with at least two
    positives; at most ``max_users`` of them, seeded); everything else is the train part.

    Where the timestamps order too few events (``candidates.MIN_ORDERED_SHARE``: a file
    without times, whose importer stamps every event alike) "latest" would be file order,
    often the highest item id; a seeded random positive per user is the target instead.
    ``share``: ``ordered_share(data)`` when the caller has it already."""
    eligible = (data.kind == POSITIVE) & (data.user >= 0) & (data.item >= 0)
    counts = np.bincount(data.user[eligible], minlength=data.n_users)
    users = np.flatnonzero(counts >= 2)
    if len(users) > max_users:
        users = np.random.default_rng(seed).choice(users, max_users, replace=False)
    sampled = np.zeros(data.n_users, dtype=bool)
    sampled[users] = True
    eligible &= sampled[np.clip(data.user, 0, None)]
    ordered = (ordered_share(data) if share is None else share) >= MIN_ORDERED_SHARE
    ranked = data
    if not ordered:  # a seeded random order stands in for time
        shuffled = np.random.default_rng(seed).random(len(data))
        ranked = dataclasses.replace(data, timestamp=shuffled, _cache={})
    test = latest_per_user(ranked, eligible, lambda count: np.minimum(1, count - 1))
    params = {"n": 1, "max_users": max_users, "seed": seed}
    name = "leave_last_out" if ordered else "random_one_per_user"
    return Split(data.subset(~test), data.subset(test), name, params)


def describe_part(data: Dataset) -> dict[str, Any]:
    return {
        "events": len(data),
        "users": len(np.unique(data.user[data.user >= 0])),
        "digest": events_digest(data),
    }


def _users_part(split: Split, users: np.ndarray) -> Split:
    keep = np.isin(split.test.user, users)
    return Split(split.train, split.test.subset(keep), split.name, split.params)


# -- the search ----------------------------------------------------------------------------------


class _Budget:
    def __init__(self, seconds: float):
        self.seconds, self.start = seconds, time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def left(self) -> float:
        return self.seconds - self.elapsed


def _space(family: str) -> tuple[list[str], dict[str, Any]]:
    """The names the family's ``search_space`` suggests, and their Optuna distributions."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    probe = optuna.create_study().ask()
    FAMILIES[family].config_class.search_space(probe)
    return list(probe.params), dict(probe.distributions)


def _representable(distribution: Any, value: Any) -> bool:
    """Whether an Optuna distribution can hold ``value`` (out of range is fine: Optuna warns
    and keeps it; 0 on a log scale, or an unknown category, is not)."""
    try:
        distribution.to_internal_repr(value)
    except (ValueError, TypeError):
        return False
    return True


def _key(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _describe_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 500 else text[:497] + "..."


class ModelSearch:
    """One search over ``families`` on ``data``; :meth:`run` returns the trials."""

    def __init__(
        self,
        data: Dataset,
        budget_seconds: float,
        *,
        families: Sequence[str] | None = None,
        warm_start: tuple[str, Mapping[str, Any]] | None = None,
        reserve: Callable[[float], float] = lambda best_seconds: best_seconds,
        progress: Progress | None = None,
        seed: int = 0,
    ):
        self.budget = _Budget(budget_seconds)
        self.progress = progress
        self.seed = seed
        self.reserve = reserve
        share = ordered_share(data)  # one sort of the events, for the split and the families
        self.split = validation_split(data, seed=seed, share=share)
        chosen, skipped = search_families(data, families, share)
        self.result = SearchResult(budget_seconds, families=list(chosen), skipped=skipped)
        self.result.validation = {
            "name": self.split.name,
            "params": dict(self.split.params),
            "carved_from": "the train part of the job's holdout",
            "train": describe_part(self.split.train),
            "test": describe_part(self.split.test),
        }
        self.warm = None
        if warm_start is not None:
            family, config = warm_start[0], dict(warm_start[1])
            self.result.warm_start = {"family": family, "config": config}
            if family in FAMILIES and (family in chosen or family == "hybrid"):
                self.warm = (family, config)
        self.families = chosen
        if self.warm is not None and self.warm[0] in chosen:  # the champion's family first
            self.families = [self.warm[0], *(f for f in chosen if f != self.warm[0])]
        test_users = np.unique(self.split.test.user)
        rng = np.random.default_rng(seed)
        first = rng.choice(test_users, math.ceil(len(test_users) * PRUNE_SHARE), replace=False)
        self._parts = (
            _users_part(self.split, first),
            _users_part(self.split, np.setdiff1d(test_users, first)),
        )
        self._studies: dict[str, Any] = {}
        self._best_models: dict[str, tuple[float, Recommender[Any]]] = {}
        self._seconds: dict[str, float] = {}  # the family's last trial
        self._eval_seconds: dict[str, float] = {}  # the family's last scoring
        self._tried: dict[tuple[str, str], Trial] = {}  # (family, params) -> its trial
        self._stale = 0  # tuning steps since the best last improved

    # -- what one trial does ----------------------------------------------------------------

    def _say(self, text: str) -> None:
        log.info("search: %s", text)
        if self.progress:
            self.progress(min(self.budget.elapsed / max(self.budget.seconds, 1e-9), 1.0), text)

    def _score(self, model: Recommender[Any], part: Split) -> tuple[float, int]:
        users = len(np.unique(part.test.user))
        if users == 0:
            return 0.0, 0
        value = evaluate_ranking(model, part, k=10, metrics=("ndcg",))[METRIC]
        return (0.0 if math.isnan(value) else float(value)), users

    def _evaluate(self, model: Recommender[Any], trial: Any | None) -> tuple[float, bool]:
        """(value, pruned): scored on the first third, then (unless pruned) on the rest."""
        first, n_first = self._score(model, self._parts[0])
        if trial is not None:
            trial.report(first, 0)
            if trial.should_prune():
                return first, True
        rest, n_rest = self._score(model, self._parts[1])
        total = n_first + n_rest
        return ((first * n_first + rest * n_rest) / total if total else 0.0), False

    def _neural_cap(self) -> float:
        """The seconds the next neural trial may train for."""
        return NEURAL_SHARE * max(self.budget.left - self._reserve(), 0.0)

    @staticmethod
    def _refit_params(
        family: str, params: dict[str, Any], model: Recommender[Any]
    ) -> dict[str, Any]:
        """A neural trial's parameters as the job refits its model: the epochs its early
        stopping chose, trained on everything given (no validation slice, no time limit),
        for the families whose validation slice is a setting (the sequential ones)."""
        params = {k: v for k, v in params.items() if k != "time_limit_seconds"}
        best_epoch = getattr(model, "best_epoch", None)
        if best_epoch and "validation_users" in FAMILIES[family].config_class.model_fields:
            params.update(epochs=int(best_epoch), validation_users=0)
        return params

    def _run_trial(
        self, family: str, params: dict[str, Any], source: str, optuna_trial: Any | None = None
    ) -> Trial:
        trial = Trial(len(self.result.trials), family, dict(params), source)
        self.result.trials.append(trial)
        t0 = time.perf_counter()
        try:
            if family in NEURAL:
                params = {"progress": False, **params, "time_limit_seconds": self._neural_cap()}
            model = create(family, **params).fit(self.split.train)
            if family in NEURAL:
                trial.params = self._refit_params(family, params, model)
            t1 = time.perf_counter()
            trial.value, pruned = self._evaluate(model, optuna_trial)
            if not pruned:
                self._eval_seconds[family] = time.perf_counter() - t1
            trial.state = "pruned" if pruned else "complete"
        except Exception as exc:  # a family that fails on this data is reported, not fatal
            trial.state, trial.error = "failed", _describe_error(exc)
            log.warning("search: %s failed: %s", family, trial.error)
            model = None
        trial.seconds = time.perf_counter() - t0
        self._seconds[family] = trial.seconds
        if trial.state == "complete" and model is not None and family != "hybrid":
            self._keep(family, trial.value or 0.0, model)
        best = self.result.best
        self._say(
            f"trial {trial.number} {family} {trial.state}"
            + (f" ndcg@10 {trial.value:.4f}" if trial.value is not None else "")
            + (f"; best {best.family} {best.value:.4f}" if best else "")
        )
        return trial

    def _keep(self, family: str, value: float, model: Recommender[Any]) -> None:
        """The best model of the two best families, for the ensemble trial."""
        if family in self._best_models and self._best_models[family][0] >= value:
            return
        self._best_models[family] = (value, model)
        ranked = sorted(self._best_models, key=lambda f: -self._best_models[f][0])
        for dropped in ranked[2:]:
            del self._best_models[dropped]

    def _reserve(self) -> float:
        """Time kept back: the job's own fit of the winner, and the ensemble's scorings
        (each scores two members)."""
        best = self.result.best
        job = self.reserve(self._seconds.get(best.family, 0.0) if best else 0.0)
        return job + len(ENSEMBLE_WEIGHTS) * 2 * max(self._eval_seconds.values(), default=0.0)

    def _fits(self, family: str) -> bool:
        """Whether a trial of ``family`` is expected to end within the budget (a neural
        trial ends by its time limit: it needs a limit long enough to learn something)."""
        if family in NEURAL:
            return self._neural_cap() >= NEURAL_MIN_SECONDS
        expected = self._seconds.get(family)
        if expected is None:  # not timed yet: its own estimate (EASE's n^3, ALS's solves),
            # else as long as the slowest classic trial so far (a kNN fit on a large
            # catalogue takes as long as another's: better skipped than overrun)
            classic = (t for f, t in self._seconds.items() if f not in NEURAL | {"hybrid"})
            slowest = max(classic, default=0.0)
            expected = FAMILIES[family].expected_fit_seconds(self.split.train) or slowest
        return expected <= self.budget.left - self._reserve()

    # -- the rounds ----------------------------------------------------------------------------

    def _study(self, family: str) -> Any:
        import optuna

        if family not in self._studies:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            self._studies[family] = optuna.create_study(
                direction="maximize",
                sampler=optuna.samplers.TPESampler(seed=self.seed),
                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
            )
        return self._studies[family]

    def _first_trial(self, family: str) -> None:
        """The champion's configuration for its family, else the defaults, as the family's
        first Optuna trial (so TPE knows it)."""
        names, distributions = _space(family)
        study = self._study(family)
        warm = self.warm is not None and self.warm[0] == family
        fixed = dict(self.warm[1]) if warm else {}  # type: ignore[index]
        defaults = FAMILIES[family].config_class(**fixed).model_dump()
        known = {k: defaults[k] for k in names if k in defaults}
        enqueued = {k: v for k, v in known.items() if _representable(distributions[k], v)}
        # a value a distribution cannot hold (0 on a log scale) runs as given, outside TPE
        fixed.update({k: v for k, v in known.items() if k not in enqueued})
        with warnings.catch_warnings():  # a champion may sit outside the search ranges
            warnings.simplefilter("ignore", UserWarning)
            study.enqueue_trial(enqueued)
            optuna_trial = study.ask()
            suggested = FAMILIES[family].config_class.search_space(optuna_trial)
        trial = self._run_trial(
            family, {**suggested, **fixed}, "warm_start" if warm else "default", optuna_trial
        )
        if not warm:
            self._tried[(family, _key(suggested))] = trial
        self._finish(study, optuna_trial, trial)

    def _tuned_trial(self, family: str) -> None:
        """One Optuna trial; parameters the family has already been scored with are not
        fitted again (TPE repeats itself on small spaces): the study gets the old result."""
        study = self._study(family)
        optuna_trial = study.ask()
        params = FAMILIES[family].config_class.search_space(optuna_trial)
        before = self.result.best
        earlier = self._tried.get((family, _key(params)))
        if earlier is not None:
            self._finish(study, optuna_trial, earlier)
        else:
            trial = self._run_trial(family, params, "tuned", optuna_trial)
            self._tried[(family, _key(params))] = trial
            self._finish(study, optuna_trial, trial)
        improved = self.result.best is not before and self.result.best is not None
        self._stale = 0 if improved else self._stale + 1

    def _finish(self, study: Any, optuna_trial: Any, trial: Trial) -> None:
        import optuna

        if trial.state == "complete":
            study.tell(optuna_trial, trial.value)
        elif trial.state == "pruned":
            study.tell(optuna_trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(optuna_trial, state=optuna.trial.TrialState.FAIL)

    def _family_best(self, family: str) -> float:
        values = [
            t.value
            for t in self.result.trials
            if t.family == family and t.state == "complete" and t.value is not None
        ]
        return max(values, default=-math.inf)

    def _converged(self) -> bool:
        """The last ``PATIENCE`` tuning steps (repeats included) found nothing better."""
        return self._stale >= PATIENCE

    def run(self) -> SearchResult:
        if self.warm is not None and self.warm[0] == "hybrid":
            self._run_trial("hybrid", dict(self.warm[1]), "warm_start")
        failed: set[str] = set()
        for family in self.families:
            # until one trial has completed, quick classic families start whatever the clock
            # says: a job always ends with a searched model, however short its budget
            estimate = FAMILIES[family].expected_fit_seconds(self.split.train)
            may_skip = self.result.best is not None or family in NEURAL or estimate > 0
            if may_skip and not self._fits(family):
                reason = "no time left in the budget"
                if estimate > 0:
                    reason += f" (a fit is expected to take {estimate:.0f}s)"
                self.result.skipped[family] = reason
                self._say(f"no time left for {family}")
                continue
            self._first_trial(family)
            if self.result.trials[-1].state == "failed":
                failed.add(family)
        alive = [f for f in self.families if f not in failed and f in self._seconds]
        # every classic family gets a first tuning round (a weak default, such as ALS's
        # on some data, says little about the family); torch ones only among the best
        ranked = sorted(alive, key=self._family_best, reverse=True)
        survivors = [f for f in ranked if f not in NEURAL or f in ranked[:SURVIVORS]]
        trials = TRIALS_PER_ROUND
        while survivors and not self._converged():
            ran = 0
            for family in survivors:
                for _ in range(trials):
                    if not self._fits(family) or self._converged():
                        break
                    self._tuned_trial(family)
                    ran += 1
            if not ran:
                break
            keep = max(1, len(survivors) // 2)
            survivors = sorted(survivors, key=self._family_best, reverse=True)[:keep]
            trials *= 2
        self._ensemble()
        self.result.seconds = self.budget.elapsed
        return self.result

    def _ensemble(self) -> None:
        """The best models of the two best families fused by rank, at each weighting of
        ``ENSEMBLE_WEIGHTS`` (the better family's weight first), each one more trial."""
        if len(self._best_models) < 2:
            return
        if self.split.train.n_items > ENSEMBLE_MAX_ITEMS:
            self.result.skipped["hybrid"] = (
                f"the fusion scores every item for each member: {self.split.train.n_items:,} "
                f"items (limit {ENSEMBLE_MAX_ITEMS:,})"
            )
            return
        from recserve.algorithms.hybrid import Hybrid

        families = sorted(self._best_models, key=lambda f: -self._best_models[f][0])
        models = [self._best_models[f][1] for f in families]
        fitted = sum(self._seconds[f] for f in families)
        for weights in ENSEMBLE_WEIGHTS:
            if self.budget.left <= 0:
                break
            trial = Trial(len(self.result.trials), "hybrid", {}, "ensemble")
            self.result.trials.append(trial)
            t0 = time.perf_counter()
            try:
                hybrid = Hybrid.from_fitted(models, self.split.train, weights)
                params = hybrid.config.model_dump(mode="json")
                for member, model in zip(params["members"], models, strict=True):
                    if member["family"] in NEURAL:  # refitted as its own trial would be
                        member["params"] = self._refit_params(
                            member["family"], member["params"], model
                        )
                trial.params = params
                trial.value, _ = self._evaluate(hybrid, None)
            except Exception as exc:
                trial.state, trial.error = "failed", _describe_error(exc)
            trial.seconds = time.perf_counter() - t0
            self._seconds["hybrid"] = trial.seconds + fitted
            self._say(
                f"trial {trial.number} ensemble of {' + '.join(families)} "
                f"(weights {weights[0]:g}:{weights[1]:g}) {trial.state}"
                + (f" ndcg@10 {trial.value:.4f}" if trial.value is not None else "")
            )
