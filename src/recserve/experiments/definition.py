"""What an experiment is: a scenario, its variants with traffic shares, the event types that
count as clicks and conversions, and its status (draft, running, stopped)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from recserve.schemas.experiments import (
    DEFAULT_CLICK_TYPES,
    DEFAULT_CONVERSION_TYPES,
    MAX_VARIANTS,
)
from recserve.store.experiments import DRAFT, RUNNING, STATUSES, STOPPED

__all__ = ["CONTROL", "DRAFT", "RUNNING", "STATUSES", "STOPPED"]

CONTROL = "champion"  # a variant's ``model``: the scenario's current champion
# Scenarios an experiment can split (the engine routes their requests that name a user by
# variant), each with the scenarios whose champion may answer for one of its variants.
_GLOBAL = ("popular", "trending", "latest")
VARIANT_SCENARIOS: dict[str, tuple[str, ...]] = {
    "recommended": ("recommended", *_GLOBAL, "similar_items"),
    **{scenario: _GLOBAL for scenario in _GLOBAL},
}
EXPERIMENT_SCENARIOS = tuple(VARIANT_SCENARIOS)
GLOBAL_SCENARIOS = _GLOBAL  # their model variants must be global rankings
MODEL_REF = re.compile(r"^[A-Za-z0-9_.-]{1,64}/v\d{1,9}$")


class InvalidExperiment(ValueError):
    """A definition the service refuses; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Variant:
    name: str
    share: float
    model: str | None = None  # "name/version"; None with no scenario: the champion
    scenario: str | None = None  # another scenario's champion answers

    @property
    def source(self) -> str:
        """What serves the variant: "champion", "name/version" or "scenario:<name>"."""
        if self.model is not None:
            return self.model
        if self.scenario is not None:
            return f"scenario:{self.scenario}"
        return CONTROL

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Variant:
        model = raw.get("model")
        return cls(
            name=str(raw["name"]),
            share=float(raw["share"]),
            model=None if model in (None, CONTROL) else str(model),
            scenario=raw.get("scenario"),
        )


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    scenario: str
    variants: tuple[Variant, ...]
    status: str = RUNNING
    click_types: tuple[str, ...] = DEFAULT_CLICK_TYPES
    conversion_types: tuple[str, ...] = DEFAULT_CONVERSION_TYPES
    description: str | None = None
    created_at: float | None = None
    started_at: float | None = None
    stopped_at: float | None = None
    shares: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shares", tuple(v.share for v in self.variants))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Experiment:
        return cls(
            experiment_id=row["experiment_id"],
            scenario=row["scenario"],
            variants=tuple(Variant.parse(v) for v in row["variants"]),
            status=row["status"],
            click_types=tuple(row["click_types"]),
            conversion_types=tuple(row["conversion_types"]),
            description=row.get("description"),
            created_at=row.get("created_at"),
            started_at=row.get("started_at"),
            stopped_at=row.get("stopped_at"),
        )

    def to_row(self) -> dict[str, Any]:
        """The columns to insert (times are set by the repository)."""
        return {
            "experiment_id": self.experiment_id,
            "scenario": self.scenario,
            "status": self.status,
            "variants": [asdict(v) for v in self.variants],
            "click_types": list(self.click_types),
            "conversion_types": list(self.conversion_types),
            "description": self.description,
        }

    def model_refs(self) -> list[str]:
        return list(dict.fromkeys(v.model for v in self.variants if v.model is not None))


def validate(experiment: Experiment) -> Experiment:
    """Refuse a definition that cannot be served as meant (InvalidExperiment)."""
    if experiment.scenario not in EXPERIMENT_SCENARIOS:
        raise InvalidExperiment(
            "unsupported_scenario",
            f"experiments split {', '.join(EXPERIMENT_SCENARIOS)}; not {experiment.scenario!r}",
        )
    if experiment.status not in (DRAFT, RUNNING):
        raise InvalidExperiment("invalid_status", "a new experiment is draft or running")
    variants = experiment.variants
    if not 2 <= len(variants) <= MAX_VARIANTS:
        raise InvalidExperiment(
            "invalid_variants", f"an experiment has 2 to {MAX_VARIANTS} variants"
        )
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise InvalidExperiment("invalid_variants", "variant names must be unique")
    _check_shares([v.share for v in variants])
    for variant in variants:
        _check_source(variant, VARIANT_SCENARIOS[experiment.scenario])
    if not experiment.click_types or not experiment.conversion_types:
        raise InvalidExperiment(
            "invalid_event_types", "click_types and conversion_types need one type each"
        )
    return experiment


def _check_shares(shares: Sequence[float]) -> None:
    if any(not math.isfinite(s) or s <= 0 for s in shares):
        raise InvalidExperiment("invalid_shares", "every share is a number above 0")
    if abs(sum(shares) - 1.0) > 1e-6:
        raise InvalidExperiment(
            "invalid_shares", f"the shares must add up to 1 (they add up to {sum(shares):g})"
        )


def _check_source(variant: Variant, scenarios: Sequence[str]) -> None:
    if variant.model is not None and variant.scenario is not None:
        raise InvalidExperiment(
            "invalid_variant", f"variant {variant.name!r}: give a model or a scenario, not both"
        )
    if variant.model is not None and not MODEL_REF.match(variant.model):
        raise InvalidExperiment(
            "invalid_model_ref",
            f"variant {variant.name!r}: model is 'champion' or 'name/version' "
            f"(e.g. ease/v0002), not {variant.model!r}",
        )
    if variant.scenario is not None and variant.scenario not in scenarios:
        raise InvalidExperiment(
            "invalid_variant",
            f"variant {variant.name!r}: scenario is one of {', '.join(scenarios)}",
        )
