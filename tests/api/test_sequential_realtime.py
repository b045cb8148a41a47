"""Real-time sequential recommendations through the HTTP API: a SASRec champion follows a
user's new taste from the very next request after one posted event, with no retraining."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from recserve.algorithms import create
from recserve.data import Dataset
from tests.api.conftest import BLOCKS, ITEMS_PER_BLOCK, block_items, item_id, train

USERS = 36
HOME_LIKES = 4
DRIFT_LIKES = 3


def block_of(item: str) -> int:
    return int(item[1:]) // ITEMS_PER_BLOCK


def drifting_events() -> list[dict[str, Any]]:
    """Every user likes four to seven items of a home block in a session; every other user
    then drifts to another block (the next or the one after) for a few more likes, so the
    data shows that the most recent taste is what comes next."""
    events, t = [], 1_600_000_000
    for u in range(USERS):
        home = u % BLOCKS
        items = block_items(home)
        likes = [items[(u + k) % ITEMS_PER_BLOCK] for k in range(HOME_LIKES + u % 4)]
        if u % 2:
            items = block_items((home + 1 + (u // 2) % 2) % BLOCKS)
            likes += [items[(u + k) % ITEMS_PER_BLOCK] for k in range(DRIFT_LIKES)]
        for item in likes:
            t += 60
            events.append({"user_id": f"s{u:02d}", "item_id": item, "type": "like", "timestamp": t})
    return events


def recommended(client: TestClient, user: str, n: int = 5) -> tuple[list[str], str]:
    response = client.get(f"/v1/users/{user}/recommendations", params={"n": n})
    assert response.status_code == 200, response.text
    body = response.json()
    return [entry["item_id"] for entry in body["items"]], body["model"]


def test_one_new_event_changes_the_next_sasrec_answer(client: TestClient) -> None:
    assert client.post("/v1/feedback", json=drifting_events()).status_code == 200
    app: Any = client.app
    train(app)  # the default models, for the popular fallback and similar items
    state = app.state
    data = Dataset.from_store(state.store, state.settings.feedback_types)
    model = create(
        "sasrec",
        embedding_dim=16,
        blocks=1,
        max_len=10,
        epochs=40,
        patience=40,
        batch_size=16,
        learning_rate=1e-2,
        dropout=0.1,
        threads=1,
    ).fit(data)
    version = state.registry.register("sasrec", model)
    state.registry.promote("recommended", "sasrec", version.version)
    assert state.engine.refresh() == ["recommended"]

    user = "s00"  # home block 0, never drifted
    before, served_by = recommended(client, user)
    assert served_by == f"sasrec/{version.version}"
    assert block_of(before[0]) == 0, "the home block leads before the new event"

    new_item = item_id(2 * ITEMS_PER_BLOCK + 7)  # block 2, new to this user
    response = client.post(
        "/v1/feedback", json=[{"user_id": user, "item_id": new_item, "type": "like"}]
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1

    after, served_by = recommended(client, user)
    assert served_by == f"sasrec/{version.version}", "the same model, not retrained"
    assert state.registry.versions("sasrec") == [version.version]
    assert after != before and new_item not in after
    assert block_of(after[0]) == 2, "the newest taste leads the next answer"
    assert sum(block_of(i) == 2 for i in after[:3]) >= 2
