from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recserve.algorithms import create
from recserve.registry import ArtifactError, ModelRegistry
from tests.synthetic import make_synthetic


@pytest.fixture(scope="module")
def fitted():
    return create("item_knn", neighbours=10).fit(make_synthetic())


def test_register_numbers_versions_and_records_a_manifest(tmp_path: Path, fitted) -> None:
    registry = ModelRegistry(tmp_path)
    v1 = registry.register("knn", fitted, data_stats={"events": 5}, metrics={"ndcg@10": 0.3})
    v2 = registry.register("knn", fitted)
    assert (v1.version, v2.version) == ("v0001", "v0002")
    assert registry.versions("knn") == ["v0001", "v0002"]
    manifest = registry.manifest("knn", "v0001")
    assert manifest["family"] == "item_knn" and manifest["data"] == {"events": 5}
    assert manifest["metrics"] == {"ndcg@10": 0.3}
    assert set(manifest["checksums"]) == {"arrays.npz", "config.json"}
    assert not [p for p in (tmp_path / "knn").iterdir() if p.name.startswith(".staging")]


def test_promote_and_load_champion(tmp_path: Path, fitted) -> None:
    registry = ModelRegistry(tmp_path)
    version = registry.register("knn", fitted)
    assert registry.load_champion("recommended") is None
    registry.promote("recommended", "knn", version.version)
    champion = registry.load_champion("recommended")
    assert champion is not None
    loaded_version, model = champion
    assert loaded_version.ref == "knn/v0001"
    np.testing.assert_allclose(model.score(np.arange(5)), fitted.score(np.arange(5)))


def test_corrupt_artifact_is_refused(tmp_path: Path, fitted) -> None:
    registry = ModelRegistry(tmp_path)
    good = registry.register("knn", fitted)
    registry.promote("recommended", "knn", good.version)
    bad = registry.register("knn", fitted)
    arrays = tmp_path / "knn" / bad.version / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:-10] + b"corrupted!")
    with pytest.raises(ArtifactError, match="checksum"):
        registry.promote("recommended", "knn", bad.version)
    assert registry.champions()["recommended"] == "knn/v0001"  # the previous champion stays
    with pytest.raises(ArtifactError, match="no model version"):
        registry.load("knn", "v0099")


def test_unknown_family_is_refused(tmp_path: Path, fitted) -> None:
    registry = ModelRegistry(tmp_path)
    version = registry.register("knn", fitted)
    manifest_path = tmp_path / "knn" / version.version / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["family"] = "no_such_family"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="unknown model family"):
        registry.load("knn", version.version)
