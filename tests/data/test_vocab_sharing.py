"""Models loaded over one catalogue share one item vocabulary object (memory at 1M items)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recserve.algorithms import create
from recserve.config import default_feedback_types
from recserve.data import Dataset, Vocabulary
from recserve.registry import ModelRegistry


def _data(items: list[str]) -> Dataset:
    n = len(items)
    return Dataset.from_events(
        np.array([f"u{k % 3}" for k in range(n)], dtype=object),
        np.array(items, dtype=object),
        np.array(["like"] * n, dtype=object),
        np.full(n, np.nan),
        np.arange(n, dtype=np.float64),
        default_feedback_types(),
    )


def test_loaded_models_share_identical_vocabularies(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    same = _data([f"i{k}" for k in range(30)])
    a = registry.register("popular", create("popular").fit(same))
    b = registry.register("latest", create("latest").fit(same))
    c = registry.register("trending", create("trending").fit(_data(["x", "y", "z"])))
    first = registry.load("popular", a.version)
    second = registry.load("latest", b.version)
    other = registry.load("trending", c.version)
    assert first.items is second.items and first.items is not other.items
    assert first.items is not None and other.items is not None
    assert first.items.get("i7") == same.items.get("i7") and first.items.get("x") == -1
    assert other.items.index(["z", "i1"]).tolist() == [2, -1]
    assert Vocabulary.from_array(np.array(["i1", "i0"])).ids.tolist() == ["i1", "i0"]
