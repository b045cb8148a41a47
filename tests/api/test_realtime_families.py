"""Real time for every personalised model family, through the HTTP API.

Each family is trained on the synthetic store of ``tests/api/conftest.py`` (catalogue and
events posted over HTTP), registered and promoted as the ``recommended`` champion. A user
who liked five items of block 0 then likes six items of block 2 through ``/v1/feedback``;
the very next answer, from the same model version with no retraining, must rank the four
other items of block 2 clearly higher than before (their mean rank among the items unseen
in both answers rises by at least ``MIN_RISE`` places). The global rankings (popular,
trending, latest, best_rated) are the same for everyone and have live counters of their
own; they are not tested here. Neural families train a few epochs (marked slow, still run)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from recserve.algorithms import FAMILIES, create
from recserve.data import Dataset
from tests.api.conftest import BLOCKS, block_items, synthetic_events

WORDS = ["jazz piano trio", "heavy metal guitar", "baroque string quartet"]
USER = "u00"  # block 0: likes i00-i04, dislikes i10
NEW_LIKES = [f"i2{k}" for k in range(6)]  # six items of block 2: the new taste outweighs
# the other items of block 2, whose rank must rise
WATCHED = [i for i in block_items(2) if i not in NEW_LIKES]

MIN_RISE = 3.0  # places, in a list of 18 items unseen in both answers

NEURAL: dict[str, Any] = {"threads": 1, "validation_fraction": 0.0, "device": "cpu"}
# user_dropout: on this tiny set a known user's id embedding otherwise drowns the history
PARAMS: dict[str, dict[str, Any]] = {
    "bpr": {"factors": 16, "iterations": 100, "learning_rate": 0.05},
    "two_tower": {**NEURAL, "use_text": False, "epochs": 30, "batch_size": 32, "user_dropout": 0.5},
    "fm_ranker": {**NEURAL, "epochs": 30, "batch_size": 64, "user_dropout": 0.5},
    "gru4rec": {
        "embedding_dim": 32,
        "hidden_size": 32,
        "max_len": 10,
        "epochs": 80,
        "patience": 80,
        "batch_size": 8,
        "learning_rate": 1e-2,
        "dropout": 0.0,
        "threads": 1,
    },
    "sasrec": {
        "embedding_dim": 16,
        "blocks": 1,
        "max_len": 10,
        "epochs": 30,
        "patience": 30,
        "batch_size": 16,
        "learning_rate": 1e-2,
        "dropout": 0.1,
        "threads": 1,
    },
    "hstu": {
        "size": "tiny",
        "max_len": 10,
        "epochs": 30,
        "patience": 30,
        "batch_size": 16,
        "learning_rate": 1e-2,
        "dropout": 0.1,
        "time_dropout": 1.0,  # trained as the API serves it: live sequences carry no times
        "threads": 1,
    },
}
RATING_FAMILIES = frozenset({"biased_mf", "svdpp"})  # they learn from explicit ratings only
SLOW = frozenset(
    {"two_tower", "fm_ranker", "gru4rec", "sasrec", "hstu", "embedding"}
)  # torch, MiniLM


def personalised_families() -> list[Any]:
    return [
        pytest.param(f, marks=pytest.mark.slow) if f in SLOW else f
        for f, cls in sorted(FAMILIES.items())
        if cls.personalised
    ]


def catalogue() -> list[dict[str, Any]]:
    """Every item with a title, text, category and tags naming its block (content models)."""
    rows = []
    for block in range(BLOCKS):
        words = WORDS[block]
        for item in block_items(block):
            rows.append(
                {
                    "item_id": item,
                    "title": f"{words.split()[0]} album {item}",
                    "text": f"A {words} record.",
                    "categories": [f"genre-{block}"],
                    "tags": words.split()[:2],
                }
            )
    return rows


def events(as_ratings: bool) -> list[dict[str, Any]]:
    """The conftest events; explicit-rating families get 5-star and 1-star ratings instead."""
    rows = synthetic_events()
    if not as_ratings:
        return rows
    return [{**e, "type": "rating", "value": 5.0 if e["type"] == "like" else 1.0} for e in rows]


def recommended(client: TestClient, user: str) -> tuple[list[str], str]:
    response = client.get(f"/v1/users/{user}/recommendations", params={"n": BLOCKS * 10})
    assert response.status_code == 200, response.text
    body = response.json()
    return [entry["item_id"] for entry in body["items"]], body["model"]


def mean_rank(ranking: list[str], watched: list[str], among: set[str]) -> float:
    """Mean position of ``watched`` items in ``ranking`` restricted to ``among``."""
    common = [i for i in ranking if i in among]
    positions = [common.index(i) for i in watched if i in common]
    return float(np.mean(positions)) if positions else float(len(common))


def promote(client: TestClient, family: str) -> str:
    """Train ``family`` on the store, register and promote it for ``recommended``; its ref."""
    state: Any = client.app.state  # type: ignore[attr-defined]
    data = Dataset.from_store(state.store, state.settings.feedback_types)
    model = create(family, **PARAMS.get(family, {})).fit(data)
    version = state.registry.register(family, model)
    state.registry.promote("recommended", family, version.version)
    assert state.engine.refresh() == ["recommended"]
    return f"{family}/{version.version}"


@pytest.mark.parametrize("family", personalised_families())
def test_new_feedback_moves_the_next_answer_without_retraining(
    client: TestClient, family: str
) -> None:
    as_ratings = family in RATING_FAMILIES
    assert client.post("/v1/items", json=catalogue()).status_code == 200
    assert client.post("/v1/feedback", json=events(as_ratings)).status_code == 200
    ref = promote(client, family)

    before, served_by = recommended(client, USER)
    assert served_by == ref

    like = {"type": "rating", "value": 5.0} if as_ratings else {"type": "like"}
    response = client.post(
        "/v1/feedback", json=[{"user_id": USER, "item_id": i, **like} for i in NEW_LIKES]
    )
    assert response.status_code == 200 and response.json()["accepted"] == len(NEW_LIKES)

    after, served_by = recommended(client, USER)
    assert served_by == ref, "the same model version, not retrained"
    assert not set(NEW_LIKES) & set(after), "what the user just liked is not recommended"
    among = set(before) & set(after)
    rank_before = mean_rank(before, WATCHED, among)
    rank_after = mean_rank(after, WATCHED, among)
    assert rank_after <= rank_before - MIN_RISE, (
        f"{family}: block 2 should rise after liking {NEW_LIKES}: mean rank "
        f"{rank_before:.1f} -> {rank_after:.1f}\nbefore {before}\nafter  {after}"
    )
