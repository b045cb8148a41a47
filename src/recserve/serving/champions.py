"""The champion of each scenario, loaded from the registry and swapped atomically.

A request holds a reference to one immutable ``ServedModel`` for its whole life, and a
refresh (or the placement of new items, serving/new_items.py) replaces the whole mapping
in one assignment, so a request sees either the old champions or the new ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from recserve.algorithms import Recommender
from recserve.algorithms.global_ranking import GlobalRanking
from recserve.registry import ArtifactError, ModelRegistry, ModelVersion
from recserve.serving.allowed import BlockedItems
from recserve.serving.retrieval import ANN_MIN_ITEMS, attach_neighbours, attach_retrieval
from recserve.serving.served import (
    NEIGHBOUR_SCENARIOS,
    REQUIRED_SCENARIOS,
    TOP_N_SCENARIOS,
    ModelNotReady,
    ServedModel,
)
from recserve.store import Store

log = logging.getLogger(__name__)


class Champions:
    """scenario -> ServedModel, as promoted in the registry."""

    def __init__(self, store: Store, registry: ModelRegistry, ann_min_items: int = ANN_MIN_ITEMS):
        self.store = store
        self.registry = registry
        self.ann_min_items = ann_min_items  # faiss indexes from this catalogue size on
        self.lock = threading.Lock()  # held while the mapping is rebuilt
        self._served: dict[str, ServedModel] = {}
        self._refused: set[str] = set()  # refs that failed to load: not retried every poll

    def all(self) -> dict[str, ServedModel]:
        return dict(self._served)

    def get(self, scenario: str) -> ServedModel | None:
        return self._served.get(scenario)

    def has(self, scenario: str) -> bool:
        return scenario in self._served

    def require(self, scenario: str) -> ServedModel:
        """The scenario's champion; ``ModelNotReady`` when none is promoted yet."""
        served = self._served.get(scenario)
        if served is None:
            raise ModelNotReady(f"no model is trained for {scenario!r} yet; run `recserve train`")
        return served

    @property
    def ready(self) -> bool:
        return all(s in self._served for s in REQUIRED_SCENARIOS)

    def replace_all(self, served: dict[str, ServedModel]) -> None:
        """Swap in a new mapping (the caller holds ``lock``)."""
        self._served = served

    def load(self) -> list[str]:
        """Load the champions that changed in the registry; returns the scenarios swapped.
        A champion that cannot be loaded is logged and skipped (and not retried every poll):
        the previous one keeps serving."""
        with self.lock:
            current = dict(self._served)
            loaded: dict[str, ServedModel] = {}
            for scenario, ref in self.registry.champions().items():
                if (scenario in current and current[scenario].ref == ref) or ref in self._refused:
                    continue
                reuse = next((m for m in current.values() if m.ref == ref), None)
                reuse = reuse or next((m for m in loaded.values() if m.ref == ref), None)
                if reuse is not None:
                    loaded[scenario] = reuse
                    continue
                try:
                    loaded[scenario] = self._load(ref)
                except ArtifactError as exc:
                    log.error("refusing champion %s for %s: %s", ref, scenario, exc)
                    self._refused.add(ref)
                    continue
                log.info("serving %s for %s", ref, scenario)
            for scenario, served in loaded.items():  # faiss indexes at scale, as each is used
                if scenario in NEIGHBOUR_SCENARIOS:
                    attach_neighbours(served.model, self.ann_min_items)
                elif scenario in TOP_N_SCENARIOS:
                    attach_retrieval(served.model, self.ann_min_items)
            if loaded:
                self._served = {**current, **loaded}
            return sorted(loaded)

    def load_version(self, ref: str, shared: Iterable[ServedModel] = ()) -> ServedModel:
        """A registered model version ready to serve (a served one, or one of ``shared``,
        is reused); raises ArtifactError for a missing or corrupt version."""
        for served in [*self._served.values(), *shared]:
            if served.ref == ref:
                return served
        name, _, version = ref.partition("/")
        if version not in self.registry.versions(name):
            raise ArtifactError(f"no model version {ref}")
        served = self._load(ref)
        attach_retrieval(served.model, self.ann_min_items)
        return served

    def _load(self, ref: str) -> ServedModel:
        name, _, version = ref.partition("/")
        model = self.registry.load(name, version)
        manifest = self.registry.manifest(name, version)
        if isinstance(model, GlobalRanking):
            _ = model.order  # sorted now (~0.1 s at 1M items), not by a request
        return ServedModel(ModelVersion(name, version, manifest), model, self.blocked_items(model))

    def blocked_items(self, model: Recommender[Any]) -> BlockedItems:
        """The model's items that are hidden or no longer in the store. The store's keys are
        read a page at a time and matched in bulk. Reading every row instead (a dict per
        item) made a 1M-item load take 52-60 s, against 12 s, and left the server at
        +591-618 MB above idle, against +422 MB (docs/benchmarks.md, Serving)."""
        items = model.items
        assert items is not None
        present = np.zeros(len(items), dtype=bool)
        for keys in self.store.items.key_chunks():
            found = items.index(keys)
            present[found[found >= 0]] = True
        hidden = items.index(self.store.items.keys_flagged("hidden"))
        blocked = ~present
        blocked[hidden[hidden >= 0]] = True
        return BlockedItems(blocked)


def set_blocked(models: Iterable[ServedModel], item_id: str, blocked: bool) -> None:
    """An item was hidden, shown or deleted: apply it to each served model at once."""
    for served in {id(s): s for s in models}.values():
        assert served.model.items is not None
        index = served.model.items.get(item_id)
        if index >= 0:
            served.blocked.set(index, blocked)
