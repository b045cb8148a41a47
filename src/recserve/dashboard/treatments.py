"""Which trained model versions suit an experiment's treatment in each scenario, so the
experiments form offers (and preselects) a model of the scenario under test rather than the
first version in the registry (a frequently-bought-together model for ``recommended``).

A version suits the scenarios its model is trained for (``DEFAULT_MODELS`` and
``OPTIONAL_MODELS`` by name, else by family) and those it has been champion of.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from recserve.registry import ModelVersion
from recserve.training.pipeline import DEFAULT_MODELS, OPTIONAL_MODELS


@dataclass(frozen=True)
class Treatment:
    """A model version the form offers, with the scenarios it suits."""

    ref: str
    scenarios: tuple[str, ...]


def _trained_for(name: str, family: str | None) -> list[str]:
    specs = {**OPTIONAL_MODELS, **DEFAULT_MODELS}
    if name in specs:
        return list(specs[name][2])
    return [s for fam, _, served in specs.values() if fam == family for s in served]


def treatments(
    versions: Iterable[ModelVersion],
    champions: Mapping[str, str],
    history: Mapping[str, Sequence[str]],
) -> list[Treatment]:
    """Every version, newest first within a model, with the scenarios it suits."""
    served_by: dict[str, list[str]] = {}
    for scenario, ref in champions.items():
        served_by.setdefault(ref, []).append(scenario)
    for scenario, refs in history.items():
        for ref in refs:
            served_by.setdefault(ref, []).append(scenario)
    ordered = sorted(sorted(versions, key=lambda v: v.version, reverse=True), key=lambda v: v.name)
    out = []
    for v in ordered:
        suits = [*_trained_for(v.name, v.manifest.get("family")), *served_by.get(v.ref, [])]
        out.append(Treatment(v.ref, tuple(dict.fromkeys(suits))))
    return out


def default_treatments(
    options: Sequence[Treatment], champions: Mapping[str, str], scenarios: Iterable[str]
) -> dict[str, str]:
    """Per scenario, the treatment the form preselects: the newest version suiting it that
    is not its champion (the control already serves that one), else the champion itself (an
    A/A test rather than a model of another scenario); scenarios that no version suits are
    left out."""
    chosen = {}
    for scenario in scenarios:
        suited = [t.ref for t in options if scenario in t.scenarios]
        others = [ref for ref in suited if ref != champions.get(scenario)]
        if others or suited:
            chosen[scenario] = (others or suited)[0]
    return chosen
