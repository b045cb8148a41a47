"""A file-system model registry.

Layout under ``root``::

    <name>/<version>/arrays.npz     learned arrays (no pickles)
    <name>/<version>/config.json    family + hyperparameters
    <name>/<version>/manifest.json  family, config, created_at, data statistics, the
                                    evaluation split and its metrics, checksums
    champions.json                  {scenario: "<name>/<version>"}, replaced atomically
    history.json                    {scenario: [earlier champions, oldest first]}
    .lock                           serialises promotions across processes (flock)

A version directory is written under a temporary name and renamed into place, so a
reader never sees half an artifact; checksums catch one changed afterwards. Promotion
and rollback hold an exclusive file lock, so a training worker process and an API
replica cannot lose each other's champion changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recserve.algorithms import FAMILIES, Recommender

MANIFEST = "manifest.json"
CHAMPIONS = "champions.json"
HISTORY = "history.json"
LOCK = ".lock"
MAX_HISTORY = 50  # earlier champions remembered per scenario


class ArtifactError(RuntimeError):
    """An artifact is missing, corrupt or does not match its manifest."""


class NoPreviousChampion(LookupError):
    """A rollback was asked for a scenario that has no earlier champion to return to."""


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


def _safe_part(part: str) -> bool:
    """A name or version that stays inside the registry folder."""
    return bool(part) and part not in (".", "..") and "/" not in part and "\\" not in part


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
        split: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Store ``model`` as the next version of ``name``.

        ``split`` records how ``metrics`` were measured (name, seed, parameters); ``extra``
        adds other manifest fields (e.g. which part of the data the artifact was fitted on).
        """
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
                "split": split or {},
                **(extra or {}),
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

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock over champions and history, held across processes."""
        with (self.root / LOCK).open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def promote(self, scenario: str, name: str, version: str) -> None:
        """Make ``name/version`` the champion of ``scenario``.

        The artifact is verified (checksums, family) and loaded first, so a corrupt or
        mismatched one raises ``ArtifactError`` and the current champion stays. The
        replaced champion goes onto the scenario's history for :meth:`rollback`.
        """
        self.load(name, version)
        ref = f"{name}/{version}"
        with self._locked():
            champions = self.champions()
            previous = champions.get(scenario)
            if previous == ref:
                return
            champions[scenario] = ref
            if previous is not None:
                history = self.history()
                history[scenario] = [*history.get(scenario, []), previous][-MAX_HISTORY:]
                _write_json_atomic(self.root / HISTORY, history)
            _write_json_atomic(self.root / CHAMPIONS, champions)

    def rollback(self, scenario: str) -> str:
        """Return ``scenario`` to its previous champion; returns that ref.

        Earlier champions that no longer verify are skipped (and dropped from the history);
        ``NoPreviousChampion`` when none is left.
        """
        with self._locked():
            history = self.history()
            stack = list(history.get(scenario, []))
            while stack:
                ref = stack.pop()
                name, version = ref.split("/", 1)
                try:
                    self.load(name, version)
                except ArtifactError:
                    continue
                history[scenario] = stack
                champions = self.champions()
                champions[scenario] = ref
                _write_json_atomic(self.root / HISTORY, history)
                _write_json_atomic(self.root / CHAMPIONS, champions)
                return ref
            raise NoPreviousChampion(f"scenario {scenario!r} has no earlier champion to return to")

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

    def history(self) -> dict[str, list[str]]:
        """Earlier champions per scenario, oldest first (what rollback returns to)."""
        path = self.root / HISTORY
        if not path.exists():
            return {}
        return {k: list(v) for k, v in json.loads(path.read_text()).items()}

    def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        """Every version (of ``name``, or of every model) with its manifest; unreadable
        manifests are listed with an ``error`` instead of hiding the version."""
        out = []
        for model in [name] if name is not None else self.names():
            for version in self.versions(model):
                try:
                    manifest = self.manifest(model, version)
                except ArtifactError as exc:
                    manifest = {"name": model, "version": version, "error": str(exc)}
                out.append(ModelVersion(model, version, manifest))
        return out

    def manifest(self, name: str, version: str) -> dict[str, Any]:
        if not _safe_part(name) or not _safe_part(version):
            raise ArtifactError(f"no model version {name}/{version}")
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
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise ArtifactError(f"{name}/{version}: cannot be loaded: {exc}") from exc

    def load_champion(self, scenario: str) -> tuple[ModelVersion, Recommender[Any]] | None:
        ref = self.champions().get(scenario)
        if ref is None:
            return None
        name, version = ref.split("/", 1)
        model = self.load(name, version)
        return ModelVersion(name, version, self.manifest(name, version)), model
