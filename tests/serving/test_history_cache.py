"""The per-user live-history cache: the same rows as the training snapshot's, hits between
requests, invalidation on writes and deletes (through HTTP), a bounded size and a TTL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings, default_feedback_types
from recserve.data import Dataset, Vocabulary
from recserve.serving.history import Classified, HistoryCache, replica_ttl
from tests.api.conftest import synthetic_events, train

RULES = default_feedback_types()
EVENTS: list[tuple[str, str, float | None, float]] = [
    ("a", "like", None, 1.0),
    ("b", "play", 7.0, 2.0),
    ("a", "purchase", None, 3.0),
    ("c", "dislike", None, 4.0),
    ("d", "view", None, 5.0),
    ("e", "rating", 3.0, 6.0),  # neutral rating: seen, not positive
    ("f", "rating", 5.0, 7.0),
    ("g", "unconfigured", None, 8.0),
    ("zz", "like", None, 9.0),  # not in the item space
    ("b", "click", None, 10.0),
]


def test_rows_match_the_training_snapshot() -> None:
    items = Vocabulary(list("abcdefgh"))
    history = Classified.of(EVENTS, RULES).in_space(items)
    item_ids, types, values, stamps = zip(*EVENTS, strict=True)
    data = Dataset.from_events(
        np.full(len(EVENTS), "u", dtype=object),
        np.array(item_ids, dtype=object),
        np.array(types, dtype=object),
        np.array([np.nan if v is None else v for v in values], dtype=np.float64),
        np.array(stamps, dtype=np.float64),
        RULES,
        users=Vocabulary(["u"]),
        items=items,
    )
    np.testing.assert_allclose(history.positive.toarray(), data.positive_matrix().toarray())
    np.testing.assert_array_equal(history.seen.toarray(), data.seen_matrix().toarray())
    assert history.sequence.tolist() == items.index(["a", "b", "a", "f", "b"]).tolist()
    empty = Classified.of([], RULES).in_space(items)
    assert empty.positive.shape == (1, 8) and empty.positive.nnz == 0 and empty.seen.nnz == 0


def test_lru_bound_ttl_and_racing_reads() -> None:
    now = [0.0]
    cache = HistoryCache(max_users=2, ttl=1.0, clock=lambda: now[0])
    items = Vocabulary(["a", "b"])
    reads: list[str] = []

    def reader(user: str) -> Callable[[], list[Any]]:
        return lambda: reads.append(user) or [("a", "like", None, 1.0)]

    for user in ("u1", "u2", "u1", "u3", "u1"):  # u2 is the least recently used when u3 comes
        cache.get(user, items, reader(user), RULES)
    assert reads == ["u1", "u2", "u3"] and len(cache) == 2
    cache.get("u2", items, reader("u2"), RULES)
    assert reads[-1] == "u2"  # evicted, read again
    now[0] = 1.5  # past the TTL: every entry is read again
    cache.get("u1", items, reader("u1"), RULES)
    assert reads[-1] == "u1" and cache.hits == 2

    def racing() -> list[Any]:  # a write lands while the store read is in flight
        cache.invalidate(["u9"])
        return []

    cache.get("u9", items, racing, RULES)
    cache.get("u9", items, reader("u9"), RULES)
    assert reads[-1] == "u9"  # the racing (possibly stale) read was not kept
    assert replica_ttl(None, replicas=False) is None
    assert replica_ttl(None, replicas=True) == 1.0
    assert replica_ttl(5.0, replicas=True) == 5.0


def test_holds_answers_for_one_item_space() -> None:
    # a user cached in an old champion's item space is not cached for a new champion's:
    # the API must not count on the cache there (it would read the store on the event loop)
    cache = HistoryCache()
    old, new = Vocabulary(["a", "b"]), Vocabulary(["a", "b", "c"])
    assert not cache.holds("u1", old)
    cache.get("u1", old, lambda: [("a", "like", None, 1.0)], RULES)
    assert cache.holds("u1", old) and not cache.holds("u1", new)
    cache.get("u1", new, lambda: [("a", "like", None, 1.0)], RULES)
    assert cache.holds("u1", old) and cache.holds("u1", new)
    cache.invalidate(["u1"])
    assert not cache.holds("u1", old) and not cache.holds("u1", new)


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        settings = Settings(data_dir=tmp_path, model_poll_seconds=0, **overrides)
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        if len(clients) == 1:
            assert client.post("/v1/feedback", json=synthetic_events()).status_code == 200
        train(client.app)  # type: ignore[arg-type]
        return client

    yield build
    for client in reversed(clients):
        client.__exit__(None, None, None)


def _top(client: TestClient, user: str, **params: Any) -> list[str]:
    response = client.get(f"/v1/users/{user}/recommendations", params={"n": 5, **params})
    assert response.status_code == 200, response.text
    return [x["item_id"] for x in response.json()["items"]]


def test_posted_feedback_and_deletes_change_the_next_answer(make: Callable[..., Any]) -> None:
    client = make()
    cache: HistoryCache = client.app.state.engine.histories  # type: ignore[attr-defined]
    first = _top(client, "u00")
    assert _top(client, "u00") == first and cache.hits >= 1  # second request: from the cache
    hits = cache.hits
    posted = [{"user_id": "u00", "item_id": first[0], "type": "dislike"}]
    assert client.post("/v1/feedback", json=posted).status_code == 200
    after = _top(client, "u00")
    assert first[0] not in after and cache.hits == hits  # re-read, not the cached history
    assert first[0] not in _top(client, "u00")  # and cached again with the new event
    assert client.delete("/v1/users/u00").status_code in (200, 204)
    assert "u00" not in cache._entries
    # a deleted user's events are gone: their next list is the cold-start one
    assert _top(client, "u00") == _top(client, "nobody")


def test_bounded_and_turned_off(make: Callable[..., Any]) -> None:
    client = make(history_cache_users=3)
    cache: HistoryCache = client.app.state.engine.histories  # type: ignore[attr-defined]
    for u in range(6):
        _top(client, f"u{u:02d}")
    assert len(cache) == 3
    off = make(history_cache_users=0)
    _top(off, "u01")
    assert len(off.app.state.engine.histories) == 0  # type: ignore[attr-defined]


def test_a_write_by_another_process_shows_after_the_ttl(make: Callable[..., Any]) -> None:
    client = make(history_cache_ttl_seconds=0.2)
    first = _top(client, "u03")
    # another replica writes straight to the shared store: no hook runs in this process
    store = client.app.state.store  # type: ignore[attr-defined]
    store.feedback.add(
        [{"user_id": "u03", "item_id": first[0], "type": "dislike", "timestamp": time.time()}]
    )
    assert _top(client, "u03") == first  # still the cached history
    time.sleep(0.25)
    assert first[0] not in _top(client, "u03")
