"""New items are recommendable through their content as soon as they are inserted.

Through the HTTP API: a content-capable champion (tfidf, MiniLM embedding, two-tower's
feature tower) serves ``recommended`` and ``similar_items``; an item created afterwards with
``POST /v1/items`` is similar to the items of its block and recommended to that block's
users by the very next request, from the same model version (no retraining). A changed
text is re-encoded, a hidden new item stays out, a champion trained on a snapshot older
than an item catches up (``ServingEngine.catch_up_items``), and a model that cannot place
new items keeps serving unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recserve.algorithms import create
from recserve.api import create_app
from recserve.config import Settings
from recserve.data import Dataset
from tests.api.conftest import BLOCKS, ITEMS_PER_BLOCK, block_items, synthetic_events

WORDS = ["jazz piano trio", "heavy metal guitar", "baroque string quartet"]
NEW = "new-quartet"
BLOCK2_USER = "u16"  # users 16-23 like block 2

FAMILIES: list[Any] = [
    "tfidf",
    pytest.param("embedding", marks=pytest.mark.slow),
    pytest.param(
        ("two_tower", {"use_text": False, "epochs": 15, "batch_size": 32}),
        id="two_tower",
    ),
    pytest.param(
        ("two_tower", {"use_text": True, "epochs": 15, "batch_size": 32}),
        id="two_tower-text",
        marks=pytest.mark.slow,
    ),
]
NEURAL = {"threads": 1, "validation_fraction": 0.0, "device": "cpu"}


def item_row(item_id: str, block: int, **extra: Any) -> dict[str, Any]:
    words = WORDS[block]
    return {
        "item_id": item_id,
        "title": f"{words.split()[0]} album {item_id}",
        "text": f"A {words} record.",
        "categories": [f"genre-{block}"],
        "tags": words.split()[:2],
        **extra,
    }


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path, model_poll_seconds=0))) as c:
        rows = [item_row(i, b) for b in range(BLOCKS) for i in block_items(b)]
        assert c.post("/v1/items", json=rows).status_code == 200
        assert c.post("/v1/feedback", json=synthetic_events()).status_code == 200
        yield c


def serve(client: TestClient, family: str, **params: Any) -> str:
    """Train ``family`` on the store and promote it for recommended and similar items."""
    state: Any = client.app.state  # type: ignore[attr-defined]
    data = Dataset.from_store(state.store, state.settings.feedback_types)
    model = create(family, **params).fit(data)
    version = state.registry.register(family, model)
    for scenario in ("recommended", "similar_items"):
        state.registry.promote(scenario, family, version.version)
    state.engine.refresh()
    return f"{family}/{version.version}"


def spec(param: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(param, tuple):
        return param[0], {**NEURAL, **param[1]}
    return param, {}


def similar(client: TestClient, item_id: str, n: int) -> tuple[list[str], str]:
    response = client.get(f"/v1/items/{item_id}/similar", params={"n": n})
    assert response.status_code == 200, response.text
    body = response.json()
    return [e["item_id"] for e in body["items"]], body["model"]


def recommended(client: TestClient, user: str, n: int) -> tuple[list[str], str]:
    response = client.get(f"/v1/users/{user}/recommendations", params={"n": n})
    assert response.status_code == 200, response.text
    body = response.json()
    return [e["item_id"] for e in body["items"]], body["model"]


def block_of(item_id: str) -> int:
    return 2 if item_id == NEW else int(item_id[1:]) // ITEMS_PER_BLOCK


@pytest.mark.parametrize("param", FAMILIES)
def test_a_new_item_is_similar_and_recommended_at_once(client: TestClient, param: Any) -> None:
    family, params = spec(param)
    ref = serve(client, family, **params)
    assert NEW not in recommended(client, BLOCK2_USER, 30)[0]

    response = client.post("/v1/items", json=[item_row(NEW, 2)])
    assert response.status_code == 200 and response.json()["accepted"] == 1

    neighbours, served_by = similar(client, NEW, 5)
    assert served_by == ref, "the same version: placed, not retrained"
    assert len(neighbours) == 5 and all(block_of(i) == 2 for i in neighbours), neighbours
    assert NEW in similar(client, "i25", ITEMS_PER_BLOCK)[0]
    # the user's unseen block-2 items and the new one lead their list
    items, served_by = recommended(client, BLOCK2_USER, ITEMS_PER_BLOCK)
    assert served_by == ref and NEW in items
    assert all(block_of(i) == 2 for i in items[:5]), items
    state: Any = client.app.state  # type: ignore[attr-defined]
    assert state.registry.versions(family) == [ref.split("/")[1]]


@pytest.mark.parametrize("family", ["tfidf", pytest.param("embedding", marks=pytest.mark.slow)])
def test_a_changed_text_is_re_encoded_and_a_hidden_new_item_stays_out(
    client: TestClient, family: str
) -> None:
    serve(client, family)
    hidden = "new-hidden"
    new_rows = [item_row(NEW, 2), item_row(hidden, 2, hidden=True)]
    assert client.post("/v1/items", json=new_rows).status_code == 200
    assert hidden not in similar(client, "i25", 30)[0]
    assert hidden not in recommended(client, BLOCK2_USER, 30)[0]

    # the new item now reads like block 0: its neighbours follow the new text
    changes = {k: v for k, v in item_row(NEW, 0).items() if k != "item_id"}
    response = client.patch(f"/v1/items/{NEW}", json=changes)
    assert response.status_code == 200, response.text
    neighbours, _ = similar(client, NEW, 5)
    assert all(int(i[1:]) // ITEMS_PER_BLOCK == 0 for i in neighbours), neighbours

    # shown again: it enters the answers at once
    assert client.patch(f"/v1/items/{hidden}", json={"hidden": False}).status_code == 200
    assert hidden in similar(client, "i25", ITEMS_PER_BLOCK + 2)[0]


def test_a_model_that_cannot_place_new_items_keeps_serving(client: TestClient) -> None:
    ref = serve(client, "item_knn")
    state: Any = client.app.state  # type: ignore[attr-defined]
    before = state.engine.served()["recommended"]
    assert client.post("/v1/items", json=[item_row(NEW, 2)]).status_code == 200
    assert state.engine.served()["recommended"] is before
    items, served_by = recommended(client, BLOCK2_USER, 30)
    assert served_by == ref and NEW not in items
    # its neighbours come from its content (serving/content_neighbours.py), not the model
    neighbours, served_by = similar(client, NEW, 5)
    assert served_by == "content_similarity"
    assert len(neighbours) == 5 and all(block_of(i) == 2 for i in neighbours), neighbours


def test_a_champion_trained_before_an_item_was_inserted_catches_up(client: TestClient) -> None:
    state: Any = client.app.state  # type: ignore[attr-defined]
    model = create("tfidf").fit(Dataset.from_store(state.store, state.settings.feedback_types))
    assert client.post("/v1/items", json=[item_row(NEW, 2)]).status_code == 200  # meanwhile
    version = state.registry.register("tfidf", model)
    state.registry.promote("similar_items", "tfidf", version.version)
    assert NEW not in model.items, "the snapshot did not hold the item"
    state.engine.refresh()  # loading the champion places what it lacks
    served = state.engine.served()["similar_items"]
    assert served.ref == f"tfidf/{version.version}" and NEW in served.model.items
    neighbours, _ = similar(client, NEW, 5)
    assert len(neighbours) == 5 and all(block_of(i) == 2 for i in neighbours)
    assert state.engine.catch_up_items() == [], "nothing left to place"


@pytest.fixture
def knn_client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The catalogue and events of ``client`` on SQLite or PostgreSQL, item_knn serving
    similar items and cooccurrence bought-together: collaborative models only."""
    settings = Settings(data_dir=tmp_path, database_url=database_url, model_poll_seconds=0)
    with TestClient(create_app(settings)) as c:
        rows = [item_row(i, b) for b in range(BLOCKS) for i in block_items(b)]
        assert c.post("/v1/items", json=rows).status_code == 200
        assert c.post("/v1/feedback", json=synthetic_events()).status_code == 200
        serve(c, "item_knn")
        yield c


def test_a_new_item_gets_neighbours_from_its_content(knn_client: TestClient) -> None:
    """item_knn cannot place an item created after its training: the item's title,
    categories, tags and text find its neighbours, through the whole request path."""
    assert knn_client.post("/v1/items", json=[item_row(NEW, 2)]).status_code == 200
    body = knn_client.get(
        f"/v1/items/{NEW}/similar", params={"n": 4, "explain": True, "fields": "categories"}
    ).json()
    neighbours = [e["item_id"] for e in body["items"]]
    assert body["model"] == "content_similarity" and body["reason"] is None
    assert len(neighbours) == 4 and all(block_of(i) == 2 for i in neighbours), neighbours
    assert all(e["explanation"]["reason"] == "similar_to" for e in body["items"])
    assert all(e["explanation"]["items"][0]["item_id"] == NEW for e in body["items"])
    assert all(e["details"] == {"categories": ["genre-2"]} for e in body["items"])
    scores = [e["score"] for e in body["items"]]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0

    # filters and paging apply to content neighbours as to any list
    page2 = knn_client.get(f"/v1/items/{NEW}/similar", params={"n": 4, "offset": 4}).json()
    assert not {e["item_id"] for e in page2["items"]} & set(neighbours)
    narrowed = knn_client.get(
        f"/v1/items/{NEW}/similar", params={"n": 4, "include": ["i21", "i05"]}
    ).json()
    assert [e["item_id"] for e in narrowed["items"]] == ["i21", "i05"], "i05: only 'album'"
    assert narrowed["reason"] == "filtered"
    # bought-together falls back to similar items, so to the content too
    together = knn_client.get(f"/v1/items/{NEW}/bought-together", params={"n": 3}).json()
    assert together["model"] == "content_similarity"
    assert all(block_of(e["item_id"]) == 2 for e in together["items"])


def test_a_new_item_without_content_says_so(knn_client: TestClient) -> None:
    assert knn_client.post("/v1/items", json=[{"item_id": "bare"}]).status_code == 200
    for path in ("/v1/items/bare/similar", "/v1/items/bare/bought-together"):
        response = knn_client.get(path)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["items"] == [] and body["reason"] == "no_content", path
    # words no catalogue item uses: nothing to compare with
    odd = {"item_id": "odd", "title": "zzyzx qwerty", "tags": ["xylophone"]}
    assert knn_client.post("/v1/items", json=[odd]).status_code == 200
    body = knn_client.get("/v1/items/odd/similar").json()
    assert body["items"] == [] and body["reason"] == "no_more_items"
