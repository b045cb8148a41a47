"""Devices of the torch families: the ``device`` setting, and a model trained for a GPU
serving from a CPU-only replica (the CUDA half runs only where CUDA is)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recserve.algorithms import create
from recserve.data import Dataset
from tests.algorithms.test_gru4rec import FAST as GRU4REC
from tests.algorithms.test_hstu import FAST as HSTU
from tests.algorithms.test_ranker import FAST as FM_RANKER
from tests.algorithms.test_sasrec import FAST as SASREC
from tests.algorithms.test_two_tower import FAST as TWO_TOWER
from tests.synthetic import make_synthetic

torch = pytest.importorskip("torch")

FAMILIES = {
    "sasrec": SASREC,
    "hstu": HSTU,
    "gru4rec": GRU4REC,
    "two_tower": TWO_TOWER,
    "fm_ranker": FM_RANKER,
}
USERS = np.arange(12)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return make_synthetic()


def quick(family: str, **extra: Any) -> dict[str, Any]:
    return {**FAMILIES[family], "epochs": 2, **extra}


def on_cuda(model: Any) -> bool:
    return any(p.is_cuda for p in model.module.parameters())


def reload_without_cuda(model: Any, path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    model.save(path)
    with monkeypatch.context() as patch:
        patch.setattr(torch.cuda, "is_available", lambda: False)
        return type(model).load(path)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_cpu_setting_trains_on_the_cpu(family: str, data: Dataset) -> None:
    model = create(family, **quick(family, device="cpu")).fit(data)
    assert not on_cuda(model)
    assert np.isfinite(model.score(USERS)).all()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_gpu_model_serves_on_a_cpu_only_replica(
    family: str, data: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what a GPU run saves: float arrays and a config that says "cuda"
    model = create(family, **quick(family, device="cpu")).fit(data)
    expected = model.score(USERS)
    model.config = model.config.model_copy(update={"device": "cuda"})
    loaded = reload_without_cuda(model, tmp_path / family, monkeypatch)
    assert loaded.config.device == "cuda" and not on_cuda(loaded)
    np.testing.assert_allclose(loaded.score(USERS), expected, rtol=1e-5, atol=1e-6)


def test_training_on_cuda_without_a_gpu_is_a_clear_error(
    data: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        create("sasrec", **quick("sasrec", device="cuda")).fit(data)
    auto = create("sasrec", **quick("sasrec", device="auto")).fit(data)
    assert not on_cuda(auto)


def test_seeded_cpu_training_is_reproducible(data: Dataset) -> None:
    first, second = (create("hstu", **quick("hstu", device="cpu")).fit(data) for _ in range(2))
    np.testing.assert_array_equal(first.score(USERS), second.score(USERS))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_trains_on_cuda_in_bf16_and_serves_on_the_cpu(
    family: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make_synthetic()
    model = create(family, **{**FAMILIES[family], "device": "cuda", "bf16": True}).fit(data)
    assert on_cuda(model)
    ids, _ = model.recommend(np.arange(data.n_users), n=5, exclude=data.seen_matrix())
    loaded = reload_without_cuda(model, tmp_path / family, monkeypatch)
    assert not on_cuda(loaded)
    np.testing.assert_allclose(loaded.score(USERS), model.score(USERS), rtol=1e-3, atol=1e-4)
    again, _ = loaded.recommend(np.arange(data.n_users), n=5, exclude=data.seen_matrix())
    assert (again[:, 0] == ids[:, 0]).mean() >= 0.9
