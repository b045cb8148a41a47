"""Which variant answers a request: the running experiment of each scenario, held in
memory with its variants' models loaded, and the log of every list served under one.

The engine asks ``arm(scenario, user_id)`` on each request (a dictionary look-up and one
SHA-256). Running experiments are re-read from the store every ``reload_seconds``, so an
experiment started or stopped through any replica reaches every replica; the replica that
served the API call applies it at once (``reload``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import sqlalchemy as sa

from recserve.experiments.assignment import bucket, choose_variant
from recserve.experiments.definition import Experiment, Variant
from recserve.experiments.impressions import ListLogWriter
from recserve.store.experiments import ExperimentRepository

if TYPE_CHECKING:
    from recserve.serving.served import RecommendationList, ServedModel

log = logging.getLogger(__name__)

LIVE_COUNTED = ("popular", "trending")  # scenarios whose answers add events since training

Loader = Callable[[str], "ServedModel"]


def _unreachable(exc: Exception) -> bool:
    """A write error worth retrying: the database is down or busy, not refusing the rows."""
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)


@dataclass(frozen=True)
class Arm:
    """A user's variant in a running experiment; ``served`` is the variant's own model
    version when it names one (None: a champion answers)."""

    experiment_id: str
    variant: Variant
    served: ServedModel | None = None


@dataclass(frozen=True)
class _Live:
    experiment: Experiment
    models: dict[str, ServedModel]  # model ref -> loaded model


class ExperimentRouter:
    reload_seconds: float = 1.0

    def __init__(self, repository: ExperimentRepository, load: Loader):
        self._repository = repository
        self._load = load
        self._active: dict[str, _Live] = {}  # scenario -> its running experiment
        self._refused: set[str] = set()  # experiments whose models failed to load here
        self._prepared: dict[str, dict[str, ServedModel]] = {}  # loaded before being stored
        self._read_at = -math.inf
        self._reload_lock = threading.Lock()
        self.lists = ListLogWriter(repository.log_lists, retriable=_unreachable)

    # requests ---------------------------------------------------------------------------

    def arm(self, scenario: str, user_id: str) -> Arm | None:
        """The user's variant of the experiment running on ``scenario``; None without one."""
        if time.monotonic() - self._read_at >= self.reload_seconds:
            self._reload(wait=False)
        live = self._active.get(scenario)
        if live is None:
            return None
        experiment = live.experiment
        index = choose_variant(experiment.shares, bucket(experiment.experiment_id, user_id))
        variant = experiment.variants[index]
        served = live.models.get(variant.model) if variant.model is not None else None
        return Arm(experiment.experiment_id, variant, served)

    def record(self, arm: Arm, user_id: str, result: RecommendationList) -> RecommendationList:
        """Queue the served list for the log and tag it with the experiment and variant."""
        self.lists.put(
            {
                "recommendation_id": result.recommendation_id,
                "experiment_id": arm.experiment_id,
                "variant": arm.variant.name,
                "user_id": user_id,
                "model": result.model,
                "items": list(result.item_ids),
                "served_at": time.time(),
            }
        )
        return replace(result, experiment=arm.experiment_id, variant=arm.variant.name)

    # state ------------------------------------------------------------------------------

    def prepare(self, experiment: Experiment) -> dict[str, ServedModel]:
        """Load the experiment's model versions (raising the loader's error for one that is
        missing or corrupt), so a bad reference is refused before it is stored; the next
        reload uses them instead of loading them again."""
        models = {ref: self._load(ref) for ref in experiment.model_refs()}
        self._prepared = {experiment.experiment_id: models}
        return models

    def reload(self) -> None:
        """Re-read the running experiments now (after a change made through this replica)."""
        self._reload(wait=True)

    def _reload(self, wait: bool) -> None:
        if not self._reload_lock.acquire(blocking=wait):
            return  # another request is reloading: this one uses the current state
        try:
            self._read_at = time.monotonic()
            try:
                rows = self._repository.running()
            except Exception:  # the store is down: keep routing with what is known
                log.warning("reading running experiments failed; keeping the current ones")
                return
            active: dict[str, _Live] = {}
            for row in rows:
                experiment = Experiment.from_row(row)
                current = self._active.get(experiment.scenario)
                if current is not None and current.experiment == experiment:
                    active[experiment.scenario] = current
                    continue
                if experiment.experiment_id in self._refused:
                    continue
                try:
                    models = self._prepared.pop(experiment.experiment_id, None)
                    if models is None or set(models) != set(experiment.model_refs()):
                        models = self.prepare(experiment)
                except Exception as exc:  # serve the champion, untagged, on this replica
                    log.error("experiment %s not applied: %s", experiment.experiment_id, exc)
                    self._refused.add(experiment.experiment_id)
                    continue
                active[experiment.scenario] = _Live(experiment, models)
                log.info("experiment %s runs on %s", experiment.experiment_id, experiment.scenario)
            self._active = active
            self._prepared = {}  # an experiment refused after prepare() holds no model
        finally:
            self._reload_lock.release()

    def running(self) -> dict[str, Experiment]:
        """scenario -> the experiment this replica applies to it."""
        return {s: live.experiment for s, live in self._active.items()}

    def models(self) -> list[ServedModel]:
        """The variants' loaded model versions (the engine keeps their blocked masks and
        catalogues alive)."""
        return [m for live in self._active.values() for m in live.models.values()]

    def live_ranked(self) -> list[ServedModel]:
        """Variant models of popular/trending experiments: they count live events like the
        champions they are compared with."""
        return [
            m
            for scenario, live in self._active.items()
            if scenario in LIVE_COUNTED
            for m in live.models.values()
        ]

    def flush(self) -> int:
        return self.lists.flush()

    def close(self) -> None:
        self.lists.close()
