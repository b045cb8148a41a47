"""The serving engine a command builds for itself (``recserve recommend``), set up as the
API sets up its own (``api/app.py``): the registry's champions, the faiss threshold, the
live counters shared through Redis when ``redis_url`` names it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from recserve.config import Settings
from recserve.registry import ModelRegistry
from recserve.serving import ServingEngine
from recserve.serving.batch import MAX_CHUNK_USERS
from recserve.serving.history import HistoryCache
from recserve.store import Store


@contextmanager
def serving_engine(settings: Settings) -> Iterator[ServingEngine]:
    """An engine serving the registry's current champions; closed on exit."""
    store = Store.open(settings.resolved_database_url)
    link = None
    try:
        # a chunk's histories, read in one query, are found here by the per-user fallbacks
        engine = ServingEngine(
            store,
            ModelRegistry(settings.models_dir),
            settings.feedback_types,
            histories=HistoryCache(max_users=2 * MAX_CHUNK_USERS),
            ann_min_items=settings.ann_min_items,
        )
        if settings.redis_url:  # the live popular/trending counts the API replicas share
            from recserve.replication.counts import RedisCountsFactory
            from recserve.replication.link import RedisLink

            link = RedisLink(settings.redis_url, settings.redis_prefix)
            engine.model_state.counts_factory = RedisCountsFactory(link)
        engine.refresh()
        yield engine
    finally:
        if link is not None:
            link.close()
        store.close()
