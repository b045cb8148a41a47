"""A file-system model registry.

Layout under ``root``::

    <name>/<version>/arrays.npz     learned arrays (no pickles)
    <name>/<version>/config.json    family + hyperparameters
    <name>/<version>/manifest.json  family, created_at, data statistics, metrics, checksums
    champions.json                  {scenario: "<name>/<version>"}, replaced atomically

A version directory is written under a temporary name and renamed into place, so a
reader never sees half an artifact; checksums catch one changed afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recserve.algorithms import FAMILIES, Recommender

MANIFEST = "manifest.json"
CHAMPIONS = "champions.json"


class ArtifactError(RuntimeError):
    """An artifact is missing, corrupt or does not match its manifest."""


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    manifest: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json_atomic(path: Path, payload: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ModelRegistry:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # writing ------------------------------------------------------------------------------

    def register(
        self,
        name: str,
        model: Recommender[Any],
        *,
        data_stats: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Store ``model`` as the next version of ``name``."""
        (self.root / name).mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root / name, prefix=".staging-"))
        try:
            model.save(staging)
            manifest = {
                "name": name,
                "family": model.family,
                "config": model.config.model_dump(mode="json"),
                "created_at": time.time(),
                "data": data_stats or {},
                "metrics": metrics or {},
                "checksums": {p.name: _sha256(p) for p in sorted(staging.iterdir())},
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
            while True:  # another process may take the same number first
                version = self._next_version(name)
                try:
                    staging.rename(self.root / name / version)
                    break
                except OSError:
                    continue
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        manifest["version"] = version
        return ModelVersion(name, version, manifest)

    def _next_version(self, name: str) -> str:
        numbers = [int(v.removeprefix("v")) for v in self.versions(name)]
        return f"v{max(numbers, default=0) + 1:04d}"

    def promote(self, scenario: str, name: str, version: str) -> None:
        """Make ``name/version`` the champion of ``scenario`` (the artifact is verified first)."""
        self.verify(name, version)
        champions = self.champions()
        champions[scenario] = f"{name}/{version}"
        _write_json_atomic(self.root / CHAMPIONS, champions)

    # reading ------------------------------------------------------------------------------

    def versions(self, name: str) -> list[str]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith("v"))

    def names(self) -> list[str]:
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def champions(self) -> dict[str, str]:
        path = self.root / CHAMPIONS
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text()))

    def manifest(self, name: str, version: str) -> dict[str, Any]:
        path = self.root / name / version / MANIFEST
        try:
            manifest = json.loads(path.read_text())
        except FileNotFoundError:
            raise ArtifactError(f"no model version {name}/{version}") from None
        except json.JSONDecodeError as exc:
            raise ArtifactError(f"{name}/{version}: manifest is not valid JSON") from exc
        manifest["version"] = version
        return manifest

    def verify(self, name: str, version: str) -> dict[str, Any]:
        """The manifest, after checking every file against its checksum."""
        manifest = self.manifest(name, version)
        folder = self.root / name / version
        for filename, expected in manifest.get("checksums", {}).items():
            path = folder / filename
            if not path.exists():
                raise ArtifactError(f"{name}/{version}: {filename} is missing")
            if _sha256(path) != expected:
                raise ArtifactError(f"{name}/{version}: {filename} does not match its checksum")
        if manifest.get("family") not in FAMILIES:
            raise ArtifactError(
                f"{name}/{version}: unknown model family {manifest.get('family')!r}"
            )
        return manifest

    def load(self, name: str, version: str) -> Recommender[Any]:
        manifest = self.verify(name, version)
        try:
            return FAMILIES[manifest["family"]].load(self.root / name / version)
        except (OSError, ValueError, KeyError) as exc:
            raise ArtifactError(f"{name}/{version}: cannot be loaded: {exc}") from exc

    def load_champion(self, scenario: str) -> tuple[ModelVersion, Recommender[Any]] | None:
        ref = self.champions().get(scenario)
        if ref is None:
            return None
        name, version = ref.split("/", 1)
        model = self.load(name, version)
        return ModelVersion(name, version, self.manifest(name, version)), model
