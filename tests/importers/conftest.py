from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recserve.store import Store
from tests.importers.helpers import sqlite_url


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(sqlite_url(tmp_path))
    yield store
    store.close()
