"""Champion history, rollback, version listing and refusal of mismatched artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recserve.algorithms import create
from recserve.registry import ArtifactError, ModelRegistry, NoPreviousChampion
from tests.synthetic import make_synthetic


@pytest.fixture(scope="module")
def fitted():
    return create("item_knn", neighbours=10).fit(make_synthetic())


def test_rollback_returns_to_each_previous_champion_in_turn(tmp_path: Path, fitted) -> None:
    registry = ModelRegistry(tmp_path)
    versions = [registry.register("knn", fitted).version for _ in range(3)]
    for version in versions:
        registry.promote("recommended", "knn", version)
    registry.promote("recommended", "knn", versions[2])  # promoting the champion again: no-op
    assert registry.history() == {"recommended": ["knn/v0001", "knn/v0002"]}
    assert registry.rollback("recommended") == "knn/v0002"
    assert registry.champions()["recommended"] == "knn/v0002"
    assert registry.rollback("recommended") == "knn/v0001"
    with pytest.raises(NoPreviousChampion, match="recommended"):
        registry.rollback("recommended")
    assert registry.champions()["recommended"] == "knn/v0001"
    with pytest.raises(NoPreviousChampion):
        registry.rollback("never_promoted")


def test_rollback_skips_an_earlier_champion_that_no_longer_verifies(tmp_path: Path, fitted) -> None:
    registry = ModelRegistry(tmp_path)
    for _ in range(3):
        registry.promote("similar_items", "knn", registry.register("knn", fitted).version)
    arrays = tmp_path / "knn" / "v0002" / "arrays.npz"
    arrays.write_bytes(b"garbage" + arrays.read_bytes()[7:])
    assert registry.rollback("similar_items") == "knn/v0001"
    assert registry.history()["similar_items"] == []


def test_list_versions_carries_manifests_with_split_and_metrics(tmp_path: Path, fitted) -> None:
    registry = ModelRegistry(tmp_path)
    split = {"name": "per_user_holdout", "params": {"seed": 0, "test_fraction": 0.2}}
    registry.register(
        "knn", fitted, metrics={"ndcg@10": 0.4}, split=split, extra={"fitted_on": "all"}
    )
    registry.register("other", fitted)
    listed = registry.list_versions()
    assert [v.ref for v in listed] == ["knn/v0001", "other/v0001"]
    manifest = listed[0].manifest
    assert manifest["metrics"] == {"ndcg@10": 0.4} and manifest["split"] == split
    assert manifest["fitted_on"] == "all" and manifest["config"]["neighbours"] == 10
    assert [v.ref for v in registry.list_versions("other")] == ["other/v0001"]
    (tmp_path / "other" / "v0001" / "manifest.json").write_text("{not json")
    assert "error" in registry.list_versions("other")[0].manifest


def test_promote_refuses_a_manifest_that_does_not_match_its_arrays(tmp_path: Path, fitted) -> None:
    registry = ModelRegistry(tmp_path)
    good = registry.register("knn", fitted)
    registry.promote("recommended", "knn", good.version)
    bad = registry.register("knn", fitted)
    path = tmp_path / "knn" / bad.version / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["family"] = "ease"  # a known family whose arrays these are not
    path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError):
        registry.promote("recommended", "knn", bad.version)
    assert registry.champions() == {"recommended": "knn/v0001"}
    assert registry.history() == {}


def test_paths_outside_the_registry_are_not_versions(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(ArtifactError, match="no model version"):
        registry.manifest("..", "models")
