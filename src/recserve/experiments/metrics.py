"""Online metrics of an experiment: per variant, lists served, CTR (lists with at least one
click / lists served) and conversion rate, with 95% Wilson intervals, and each variant
against the first (the control) with a two-proportion z-test. Counting is SQL aggregates
in the store; this module adds the statistics."""

from __future__ import annotations

from typing import Any

from recserve.experiments.definition import Experiment
from recserve.experiments.statistics import (
    Z95,
    Proportion,
    two_proportion_test,
    wilson,
)
from recserve.store.experiments import ExperimentRepository


def _interval(p: Proportion) -> dict[str, Any]:
    return {"rate": p.rate, "low": p.low, "high": p.high}


def experiment_metrics(repository: ExperimentRepository, experiment: Experiment) -> dict[str, Any]:
    """``variants`` (one entry per defined variant, in definition order) and ``comparisons``
    (every other variant against the first), as JSON-ready dictionaries."""
    counts = repository.variant_counts(
        experiment.experiment_id, experiment.click_types, experiment.conversion_types
    )
    empty = {"lists": 0, "clicked_lists": 0, "converted_lists": 0, "clicks": 0, "conversions": 0}
    rows: list[dict[str, Any]] = []
    rates: list[tuple[Proportion, Proportion]] = []
    for variant in experiment.variants:
        c = counts.get(variant.name, empty)
        ctr = wilson(c["clicked_lists"], c["lists"])
        conversion = wilson(c["converted_lists"], c["lists"])
        rates.append((ctr, conversion))
        rows.append(
            {
                "variant": variant.name,
                "impressions": c["lists"],
                "clicked_lists": c["clicked_lists"],
                "clicks": c["clicks"],
                "ctr": _interval(ctr),
                "converted_lists": c["converted_lists"],
                "conversions": c["conversions"],
                "conversion_rate": _interval(conversion),
            }
        )
    comparisons = []
    base_ctr, base_conversion = rates[0]
    for variant, (ctr, conversion) in zip(experiment.variants[1:], rates[1:], strict=True):
        ctr_test = two_proportion_test(base_ctr, ctr)
        conversion_test = two_proportion_test(base_conversion, conversion)
        comparisons.append(
            {
                "variant": variant.name,
                "baseline": experiment.variants[0].name,
                "ctr_difference": ctr_test.difference,
                "ctr_z": ctr_test.z,
                "ctr_p_value": ctr_test.p_value,
                "conversion_difference": conversion_test.difference,
                "conversion_z": conversion_test.z,
                "conversion_p_value": conversion_test.p_value,
            }
        )
    return {"confidence": 0.95, "z": Z95, "variants": rows, "comparisons": comparisons}
