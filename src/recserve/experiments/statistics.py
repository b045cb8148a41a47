"""Interval estimates and tests for proportions (CTR, conversion rate), in closed form."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the two-sided 95% normal quantile


@dataclass(frozen=True)
class Proportion:
    successes: int
    trials: int
    rate: float | None  # None when nothing was served
    low: float  # Wilson score interval
    high: float


def wilson(successes: int, trials: int, z: float = Z95) -> Proportion:
    """The Wilson score interval: well behaved near 0 and 1 and for small samples, where
    the normal approximation gives intervals outside [0, 1]."""
    if trials <= 0:
        return Proportion(successes, trials, None, 0.0, 1.0)
    p = successes / trials
    z2 = z * z
    denominator = 1.0 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    low = 0.0 if successes <= 0 else max(0.0, centre - half)  # exact at the edges, where
    high = 1.0 if successes >= trials else min(1.0, centre + half)  # rounding leaves ~1e-17
    return Proportion(successes, trials, p, low, high)


@dataclass(frozen=True)
class Difference:
    difference: float | None  # rate of the variant minus rate of the baseline
    z: float | None
    p_value: float | None  # two-sided; None when either side has no trials


def two_proportion_test(baseline: Proportion, variant: Proportion) -> Difference:
    """The pooled two-proportion z-test of ``variant`` against ``baseline``."""
    if baseline.trials <= 0 or variant.trials <= 0:
        return Difference(None, None, None)
    p1 = baseline.successes / baseline.trials
    p2 = variant.successes / variant.trials
    pooled = (baseline.successes + variant.successes) / (baseline.trials + variant.trials)
    se = math.sqrt(pooled * (1 - pooled) * (1 / baseline.trials + 1 / variant.trials))
    if se == 0.0:  # both all-0 or all-1: no evidence of a difference
        return Difference(p2 - p1, 0.0, 1.0)
    z = (p2 - p1) / se
    return Difference(p2 - p1, z, math.erfc(abs(z) / math.sqrt(2.0)))
