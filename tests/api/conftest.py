"""Fixtures for API tests: settings on a temporary data folder, a client whose lifespan runs,
and a client serving models trained on a small synthetic set with obvious answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings
from recserve.training import train_default_models

BLOCKS = 3
USERS_PER_BLOCK = 8
ITEMS_PER_BLOCK = 10
LIKED_PER_USER = 5
SEARCH_SECONDS = 3.0  # a training job's model search: enough for the cheap families here


def user_id(u: int) -> str:
    return f"u{u:02d}"


def item_id(i: int) -> str:
    return f"i{i:02d}"


def block_items(block: int) -> list[str]:
    return [item_id(block * ITEMS_PER_BLOCK + k) for k in range(ITEMS_PER_BLOCK)]


def synthetic_events() -> list[dict[str, Any]]:
    """Users like items of their own block (rotating, so every item is liked) and dislike one
    item of the next block; a good model recommends unseen items of the user's block."""
    events = []
    t = 1_600_000_000
    for u in range(BLOCKS * USERS_PER_BLOCK):
        block = u // USERS_PER_BLOCK
        items = block_items(block)
        for k in range(LIKED_PER_USER):
            t += 60
            liked = items[(u + k) % ITEMS_PER_BLOCK]
            events.append({"user_id": user_id(u), "item_id": liked, "type": "like", "timestamp": t})
        disliked = block_items((block + 1) % BLOCKS)[u % ITEMS_PER_BLOCK]
        events.append(
            {"user_id": user_id(u), "item_id": disliked, "type": "dislike", "timestamp": t}
        )
    return events


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, model_poll_seconds=0, train_budget_seconds=SEARCH_SECONDS)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Build a started client with settings overrides: ``make_client(max_request_bytes=2048)``."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "model_poll_seconds": 0,
            "train_budget_seconds": SEARCH_SECONDS,
            **overrides,
        }
        client = TestClient(create_app(Settings(**values)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def train(app: FastAPI) -> None:
    """Train the default models on everything in the app's store and serve them."""
    state = app.state
    train_default_models(state.store, state.registry, state.settings.feedback_types)
    state.engine.refresh()


@pytest.fixture
def trained_client(client: TestClient) -> TestClient:
    response = client.post("/v1/feedback", json=synthetic_events())
    assert response.status_code == 200, response.text
    train(client.app)  # type: ignore[arg-type]
    return client
