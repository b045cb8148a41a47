"""Wilson intervals and the two-proportion z-test against reference values (scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from recserve.experiments.statistics import Z95, two_proportion_test, wilson


def test_wilson_reference_values() -> None:
    p = wilson(10, 100)
    assert p.rate == 0.1
    assert p.low == pytest.approx(0.05522, abs=1e-4)
    assert p.high == pytest.approx(0.17437, abs=1e-4)
    assert pytest.approx(stats.norm.ppf(0.975)) == Z95


def test_wilson_edges() -> None:
    none = wilson(0, 0)
    assert none.rate is None and (none.low, none.high) == (0.0, 1.0)
    zero = wilson(0, 50)
    assert zero.low == 0.0 and 0.0 < zero.high < 0.1
    full = wilson(50, 50)
    assert full.high == 1.0 and 0.9 < full.low < 1.0


def test_wilson_covers_the_truth_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    n, truth = 400, 0.12
    hits = 0
    for _ in range(2000):
        p = wilson(int(rng.binomial(n, truth)), n)
        hits += p.low <= truth <= p.high
    assert 0.93 <= hits / 2000 <= 0.97


def test_two_proportion_test_matches_the_chi_square_test() -> None:
    a, b = wilson(100, 1000), wilson(130, 1000)
    result = two_proportion_test(a, b)
    table = np.array([[100, 900], [130, 870]])
    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    assert result.difference == pytest.approx(0.03)
    assert result.z is not None and result.z > 0 and result.z**2 == pytest.approx(chi2)
    assert result.p_value == pytest.approx(p_value)


def test_two_proportion_test_edges() -> None:
    assert two_proportion_test(wilson(0, 0), wilson(3, 10)).p_value is None
    same = two_proportion_test(wilson(0, 10), wilson(0, 20))
    assert same.p_value == 1.0 and same.difference == 0.0
    strong = two_proportion_test(wilson(100, 1000), wilson(200, 1000))
    assert strong.p_value is not None and strong.p_value < 1e-6
    assert not math.isnan(strong.p_value)
