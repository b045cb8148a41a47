"""A data folder holding the synthetic taste-block store (tests/api/conftest.py) with
trained, promoted default models, plus a user with only a read event (popular fallback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recserve.config import Settings
from recserve.registry import ModelRegistry
from recserve.store import Store
from recserve.training import train_default_models
from tests.api.conftest import synthetic_events

COLD_USER = "cold"


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Module-wide: the tests only read it (training takes a while)."""
    data_dir = tmp_path_factory.mktemp("trained") / "data"
    settings = Settings(data_dir=data_dir)
    store = Store.open(settings.resolved_database_url)
    try:
        cold = {"user_id": COLD_USER, "item_id": "i01", "type": "view", "timestamp": 1.7e9}
        store.feedback.add([*synthetic_events(), cold])
        train_default_models(store, ModelRegistry(settings.models_dir), settings.feedback_types)
    finally:
        store.close()
    return data_dir
