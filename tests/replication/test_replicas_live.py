"""Two live API replicas (separate ``recserve serve`` processes) over one PostgreSQL schema,
one registry folder and Redis; and ``recserve serve --workers 2``.

Each replica's champion poller is off (``model_poll_seconds = 0``), so what keeps them in
step here is Redis alone: pub/sub for promotions, shared hashes for the live counters,
shared windows for the rate limits.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from recserve.config import Settings
from recserve.registry import ModelRegistry
from recserve.store import Store
from recserve.training import train_default_models
from recserve.training.pipeline import DEFAULT_MODELS
from tests.api.conftest import synthetic_events
from tests.conftest import POSTGRES_UP, POSTGRES_URL
from tests.live import live_server
from tests.replication.support import REDIS_URL, drop_prefix, require_redis, unique_prefix

# four server processes start here: slow (about 20 s on an idle machine, a minute or two
# on a loaded one)
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(240)]

ADMIN = {"X-API-Key": "admin-key-replicas"}
LIMITED = {"X-API-Key": "limited-key-replicas"}
LIMIT = 5
KEYS = [
    {"key": ADMIN["X-API-Key"], "scopes": ["admin"], "name": "ops"},
    {"key": LIMITED["X-API-Key"], "scopes": ["read"], "rate_limit_per_minute": LIMIT},
]
TRAINED = {name: DEFAULT_MODELS[name] for name in ("popular", "item_knn")}


class Deployment:
    """One PostgreSQL schema, one registry, one Redis prefix; replicas started on it."""

    def __init__(self, root: Path, database_url: str, prefix: str):
        self.root = root
        self.database_url = database_url
        self.prefix = prefix
        self.registry_dir = root / "registry"
        self.env = {
            "RECSERVE_DATABASE_URL": database_url,
            "RECSERVE_REDIS_URL": REDIS_URL,
            "RECSERVE_REDIS_PREFIX": prefix,
            "RECSERVE_MODEL_POLL_SECONDS": "0",
            "RECSERVE_API_KEYS": json.dumps(KEYS),
        }

    def replica(self, stack: ExitStack, name: str, *args: str, **env: str) -> str:
        """Start a replica with its own data folder (logs) sharing the registry folder."""
        data_dir = self.root / name
        data_dir.mkdir()
        (data_dir / "models").symlink_to(self.registry_dir)
        base, _ = stack.enter_context(
            live_server("serve", *args, data_dir=data_dir, **{**self.env, **env})
        )
        return str(base)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if not POSTGRES_UP:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (.ci/run starts it)")
    require_redis()
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    root = tmp_path_factory.mktemp("replicas")
    prefix = unique_prefix()
    try:
        store = Store.open(url)
        try:
            store.feedback.add(synthetic_events())
            registry = ModelRegistry(root / "registry")
            feedback_types = Settings().feedback_types
            train_default_models(store, registry, feedback_types, models=TRAINED)
            # a second popular version: the champion; v0001 is there to promote
            train_default_models(store, registry, feedback_types, models=TRAINED)
        finally:
            store.close()
        yield Deployment(root, url, prefix)
    finally:
        drop_prefix(prefix)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def replicas(deployment: Deployment) -> Iterator[tuple[str, str]]:
    with ExitStack() as stack:
        a = deployment.replica(stack, "a")
        b = deployment.replica(stack, "b")
        yield a, b


def wait_until(check: Callable[[], Any], timeout: float) -> tuple[Any, float]:
    """Poll ``check`` until it returns something truthy; (its value, seconds it took)."""
    start = time.monotonic()
    while True:
        value = check()
        if value or time.monotonic() - start > timeout:
            return value, time.monotonic() - start
        time.sleep(0.02)


def serving(base: str, scenario: str) -> str | None:
    data = httpx.get(f"{base}/v1/scenarios", headers=ADMIN).json()["data"]
    return next(s["serving"] for s in data if s["scenario"] == scenario)


def test_promotion_through_one_replica_is_served_by_all_within_a_second(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    assert serving(a, "popular") == serving(b, "popular") == "popular/v0002"
    response = httpx.post(
        f"{a}/v1/models/popular/v0001/promote", json={"scenario": "popular"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    assert response.json()["serving"] == "popular/v0001"  # A at once
    served, took = wait_until(lambda: serving(b, "popular") == "popular/v0001", timeout=1.0)
    assert served, f"replica B still serves {serving(b, 'popular')} after {took:.2f}s"
    assert httpx.get(f"{b}/v1/popular", headers=ADMIN).json()["model"] == "popular/v0001"
    # and back, through B this time
    response = httpx.post(f"{b}/v1/scenarios/popular/rollback", headers=ADMIN)
    assert response.status_code == 200, response.text
    served, took = wait_until(lambda: serving(a, "popular") == "popular/v0002", timeout=1.0)
    assert served, f"replica A still serves {serving(a, 'popular')} after {took:.2f}s"


def popular_scores(base: str) -> dict[str, float]:
    body = httpx.get(f"{base}/v1/popular", params={"n": 100}, headers=ADMIN).json()
    return {entry["item_id"]: entry["score"] for entry in body["items"]}


def test_a_like_posted_to_one_replica_counts_on_the_other_at_once(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    before = popular_scores(b)
    item = min(before, key=before.__getitem__)  # the least popular item
    like = [{"user_id": f"fresh-{uuid.uuid4().hex[:8]}", "item_id": item, "type": "like"}]
    assert httpx.post(f"{a}/v1/feedback", json=like, headers=ADMIN).status_code == 200
    after, _ = wait_until(
        lambda: (s := popular_scores(b))[item] == before[item] + 1 and s, timeout=0.5
    )
    assert after, f"B's score of {item} is {popular_scores(b)[item]}, was {before[item]}"
    assert popular_scores(a)[item] == before[item] + 1  # counted once, not once per replica


def test_rate_limit_is_shared_by_the_replicas(replicas: tuple[str, str]) -> None:
    a, b = replicas
    answers = [
        httpx.get(f"{base}/v1/items", headers=LIMITED) for base in [a, b] * 3
    ]  # LIMIT + 1 requests, alternating
    assert [r.status_code for r in answers] == [200] * LIMIT + [429]
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert httpx.get(f"{a}/v1/items", headers=LIMITED).status_code == 429
    assert httpx.get(f"{a}/v1/items", headers=ADMIN).status_code == 200  # other keys unaffected


def test_serve_with_two_workers(deployment: Deployment) -> None:
    prefix = unique_prefix()  # its own channel: count only these workers' subscribers
    try:
        with ExitStack() as stack:
            base = deployment.replica(
                stack, "workers", "--workers", "2", RECSERVE_REDIS_PREFIX=prefix
            )
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            channel = f"{prefix}:champions"
            subscribers, _ = wait_until(
                lambda: dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) >= 2, 30
            )
            client.close()
            assert subscribers, "two worker processes should each listen for champion changes"
            for _ in range(10):
                response = httpx.get(f"{base}/v1/popular", headers=ADMIN)
                assert response.status_code == 200
                assert response.json()["model"].startswith("popular/")
    finally:
        drop_prefix(prefix)
