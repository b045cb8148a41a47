"""Stable hash assignment: the same user always lands in the same variant, shares are
respected, and two experiments split independently."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from recserve.experiments import bucket, choose_variant


def test_bucket_is_stable_and_in_unit_interval() -> None:
    points = [bucket("exp", f"user{u}") for u in range(1000)]
    assert all(0.0 <= p < 1.0 for p in points)
    assert points == [bucket("exp", f"user{u}") for u in range(1000)]
    assert bucket("ab", "c") != bucket("a", "bc")  # the ids are separated


def test_bucket_is_the_same_in_another_process() -> None:
    """Not Python's salted hash(): a fresh interpreter computes the same points."""
    code = "from recserve.experiments import bucket; print(repr(bucket('exp', 'alice')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) == bucket("exp", "alice")


def test_bucket_is_uniform() -> None:
    points = np.array([bucket("uniform", str(u)) for u in range(20_000)])
    counts, _ = np.histogram(points, bins=10, range=(0, 1))
    assert counts.min() > 1800 and counts.max() < 2200  # 2000 expected, sd ~42


@pytest.mark.parametrize("shares", [(0.5, 0.5), (0.2, 0.8), (0.1, 0.3, 0.6)])
def test_shares_are_respected(shares: tuple[float, ...]) -> None:
    n = 20_000
    chosen = np.array([choose_variant(shares, bucket("shares", str(u))) for u in range(n)])
    observed = np.bincount(chosen, minlength=len(shares)) / n
    np.testing.assert_allclose(observed, shares, atol=0.015)


def test_cumulative_edges() -> None:
    assert choose_variant((0.25, 0.75), 0.0) == 0
    assert choose_variant((0.25, 0.75), 0.2499) == 0
    assert choose_variant((0.25, 0.75), 0.25) == 1
    assert choose_variant((0.3, 0.3, 0.4), 0.9999999999) == 2
    assert choose_variant((0.1, 0.2, 0.7), 1.0) == 2  # never out of range


def test_experiments_split_independently() -> None:
    users = [str(u) for u in range(4000)]
    a = np.array([choose_variant((0.5, 0.5), bucket("one", u)) for u in users])
    b = np.array([choose_variant((0.5, 0.5), bucket("two", u)) for u in users])
    agreement = float((a == b).mean())
    assert 0.45 < agreement < 0.55  # unrelated splits agree half the time
