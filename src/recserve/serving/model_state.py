"""Per served model, the state requests share: its item catalogue and its live counts.

Both are keyed by model ref and built on first use. A model whose item space grew (new
items placed through content) gets a rebuilt catalogue and regrown counters. Only the refs
still served (champions and experiment variants, ``live_refs``) are kept when one is added.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from recserve.serving.catalogue import ItemCatalogue
from recserve.serving.live import LiveCounter, LiveCountsFactory, local_counts
from recserve.serving.served import ServedModel
from recserve.store import Store


class ModelState:
    def __init__(self, store: Store, live_refs: Callable[[], set[str]]):
        self.store = store
        self._live_refs = live_refs
        self._lock = threading.Lock()
        self._catalogues: dict[str, ItemCatalogue] = {}  # model ref -> its item catalogue
        self._counts: dict[str, LiveCounter] = {}  # model ref -> events counted since training
        # in-process by default; several replicas share counters (recserve.replication)
        self.counts_factory: LiveCountsFactory = local_counts

    def catalogue(self, served: ServedModel) -> ItemCatalogue:
        """The item catalogue of a served model's item space, built on first use."""
        items = served.model.items
        catalogue = self._catalogues.get(served.ref)
        if catalogue is None or catalogue.items is not items:  # new, or its item space grew
            with self._lock:
                catalogue = self._catalogues.get(served.ref)
                if catalogue is None or catalogue.items is not items:
                    assert items is not None
                    catalogue = ItemCatalogue(items, self.store.items.get_many(list(items.ids)))
                    live = self._live_refs()
                    self._catalogues = {
                        **{r: c for r, c in self._catalogues.items() if r in live},
                        served.ref: catalogue,
                    }
        return catalogue

    def items_changed(self, item_ids: Sequence[str]) -> None:
        """Items were created, changed or deleted: re-read their fields into the catalogues."""
        if not self._catalogues or not item_ids:
            return
        rows = self.store.items.get_many(list(dict.fromkeys(item_ids)))
        for catalogue in list(self._catalogues.values()):
            for item_id in item_ids:
                catalogue.update(item_id, rows.get(item_id))

    def drop_catalogues(self, refs: set[str]) -> None:
        """Catalogues of item spaces that were replaced: rebuilt on next use."""
        with self._lock:
            self._catalogues = {r: c for r, c in self._catalogues.items() if r not in refs}

    def live_counts(self, served: ServedModel) -> LiveCounter:
        """The positive events counted for the model's items since its training."""
        items = served.model.items
        assert items is not None
        counts = self._counts.get(served.ref)
        if counts is None or counts.items is not items:
            with self._lock:
                counts = self._counts.get(served.ref)
                if counts is None or counts.items is not items:
                    if counts is None:
                        counts = self.counts_factory(served.ref, items)
                    else:
                        counts = counts.regrown(items)
                    live = self._live_refs()
                    self._counts = {
                        **{r: c for r, c in self._counts.items() if r in live},
                        served.ref: counts,
                    }
        return counts
