"""GET /v1/search and recommendations about a text query, through HTTP.

Search quality is checked on real data: the 1,303 MovieLens latest-small movies with at
least 20 ratings (titles, genres, users' tags), posted through the API. Known-item queries
must find their movie by a title word, a genre, a tag, and by a paraphrase that shares no
word with the movie's text, which only the semantic half can match. Personalisation,
filters, hidden items and freshness use a small catalogue with obvious answers.
"""

from __future__ import annotations

import csv
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recserve.api import create_app
from recserve.config import Settings
from tests.api.conftest import train
from tests.conftest import dataset_path

MIN_RATINGS = 20


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _movies() -> list[dict[str, Any]]:
    folder = dataset_path("movielens-latest-small")
    ratings = Counter(r["movieId"] for r in _rows(folder / "ratings.csv"))
    tags: dict[str, set[str]] = defaultdict(set)
    for row in _rows(folder / "tags.csv"):
        tags[row["movieId"]].add(row["tag"].strip())
    return [
        {
            "item_id": f"m{row['movieId']}",
            "title": row["title"],
            "categories": [g for g in row["genres"].split("|") if g != "(no genres listed)"],
            "tags": sorted(tags[row["movieId"]]),
        }
        for row in _rows(folder / "movies.csv")
        if ratings[row["movieId"]] >= MIN_RATINGS
    ]


def _wait_semantic(client: TestClient, timeout: float = 600) -> None:
    """The first search starts encoding the catalogue in the background; wait for it."""
    deadline = time.monotonic() + timeout
    while client.get("/v1/search", params={"q": "warm up"}).json()["semantic"] != "ready":
        assert time.monotonic() < deadline, "the semantic index never became ready"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def movies_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    movies = _movies()
    data_dir = tmp_path_factory.mktemp("search")
    settings = Settings(data_dir=data_dir, model_poll_seconds=0, max_batch_size=5000)
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/items", json=movies).status_code == 200
        _wait_semantic(client)
        yield client


def _titles(client: TestClient, q: str, n: int = 10, **params: Any) -> list[str]:
    response = client.get("/v1/search", params={"q": q, "n": n, **params})
    assert response.status_code == 200, response.text
    return [hit["title"] for hit in response.json()["items"]]


@pytest.mark.slow
def test_a_title_word_finds_the_movie(movies_client: TestClient) -> None:
    assert "Toy Story (1995)" in _titles(movies_client, "toy story", 3)
    assert "Jaws (1975)" in _titles(movies_client, "jaws", 3)


@pytest.mark.slow
def test_a_genre_finds_movies_of_that_genre(movies_client: TestClient) -> None:
    hits = movies_client.get("/v1/search", params={"q": "animation", "n": 10}).json()["items"]
    assert sum("Animation" in hit["categories"] for hit in hits) >= 8


@pytest.mark.slow
def test_a_users_tag_finds_the_movie(movies_client: TestClient) -> None:
    assert "Pulp Fiction (1994)" in _titles(movies_client, "tarantino", 5)


@pytest.mark.slow
def test_a_paraphrase_is_found_by_meaning_only(movies_client: TestClient) -> None:
    query = "a great white shark terrorizes a beach town"
    hits = movies_client.get("/v1/search", params={"q": query, "n": 10}).json()["items"]
    jaws = [hit for hit in hits if hit["title"] == "Jaws (1975)"]
    assert jaws and jaws[0]["lexical_rank"] is None and jaws[0]["semantic_rank"] is not None


@pytest.mark.slow
def test_category_and_attribute_filters_apply(movies_client: TestClient) -> None:
    hits = movies_client.get(
        "/v1/search", params={"q": "toy story", "n": 10, "category": "Comedy"}
    ).json()["items"]
    assert hits and all("Comedy" in hit["categories"] for hit in hits)
    filtered = movies_client.get(
        "/v1/search", params={"q": "space", "n": 10, "filter": "categories == 'Sci-Fi'"}
    ).json()["items"]
    assert filtered and all("Sci-Fi" in hit["categories"] for hit in filtered)


# a small catalogue with obvious answers ----------------------------------------------------

FRUIT = ["Apple", "Pear", "Plum", "Cherry"]
TOOLS = ["Hammer", "Wrench", "Saw", "Drill"]


def _catalogue() -> list[dict[str, Any]]:
    items = [
        {"item_id": f"f{k}", "title": f"{name} basket", "categories": ["fruit"],
         "text": f"Fresh {name.lower()} fruit from the orchard.", "attributes": {"price": k}}
        for k, name in enumerate(FRUIT)
    ]  # fmt: skip
    items += [
        {"item_id": f"t{k}", "title": f"{name} set", "categories": ["tools"],
         "text": f"A steel {name.lower()} for the workshop.", "attributes": {"price": k}}
        for k, name in enumerate(TOOLS)
    ]  # fmt: skip
    return items


def _events() -> list[dict[str, Any]]:
    """Fruit lovers like f0, f1; tool users t0, t1; ``ann`` liked f2 and f1 only."""
    events, t = [], 1_700_000_000
    for u in range(12):
        prefix = "f" if u < 6 else "t"
        for k in (0, 1, 2, 3)[: 2 + u % 3]:
            t += 60
            events.append({"user_id": f"u{u}", "item_id": f"{prefix}{k}", "type": "like",
                           "timestamp": t})  # fmt: skip
    events += [
        {"user_id": "ann", "item_id": "f2", "type": "like", "timestamp": t + 1},
        {"user_id": "ann", "item_id": "f1", "type": "like", "timestamp": t + 2},
    ]
    return events


@pytest.fixture
def shop(make_client: Callable[..., TestClient]) -> TestClient:
    client = make_client(search_refresh_seconds=0.1)
    assert client.post("/v1/items", json=_catalogue()).status_code == 200
    assert client.post("/v1/feedback", json=_events()).status_code == 200
    train(client.app)  # type: ignore[arg-type]
    _wait_semantic(client)
    return client


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [hit["item_id"] for hit in response.json()["items"]]


def test_words_and_meaning_both_find_items(shop: TestClient) -> None:
    assert _ids(shop.get("/v1/search", params={"q": "hammer"}))[0] == "t0"
    by_meaning = _ids(shop.get("/v1/search", params={"q": "something sweet to eat", "n": 4}))
    assert set(by_meaning) == {"f0", "f1", "f2", "f3"}
    words = shop.get("/v1/search", params={"q": "something sweet to eat", "mode": "words"})
    assert _ids(words) == []  # no item has these words
    meaning = shop.get("/v1/search", params={"q": "hammer", "mode": "meaning"}).json()
    assert meaning["items"][0]["item_id"] == "t0" and meaning["items"][0]["lexical_rank"] is None


def test_hidden_items_never_come_back_and_new_ones_are_found(shop: TestClient) -> None:
    assert shop.patch("/v1/items/t0", json={"hidden": True}).status_code == 200
    assert "t0" not in _ids(shop.get("/v1/search", params={"q": "hammer steel"}))
    shop.post(
        "/v1/items", json=[{"item_id": "n1", "title": "Mango crate", "categories": ["fruit"]}]
    )
    assert _ids(shop.get("/v1/search", params={"q": "mango"}))[0] == "n1"  # words: at once
    deadline = time.monotonic() + 120
    while True:  # meaning: after the background refresh
        hits = shop.get("/v1/search", params={"q": "tropical fruit", "n": 20}).json()["items"]
        found = [h for h in hits if h["item_id"] == "n1" and h["semantic_rank"] is not None]
        if found:
            break
        assert time.monotonic() < deadline, hits
        time.sleep(0.2)


def test_a_user_gets_the_query_ordered_by_taste(shop: TestClient) -> None:
    plain = shop.get("/v1/search", params={"q": "fruit basket", "n": 4}).json()
    assert plain["model"] is None and set(_ids_of(plain)) == {"f0", "f1", "f2", "f3"}
    personal = shop.get("/v1/search", params={"q": "fruit basket", "n": 4, "user_id": "u0"})
    body = personal.json()
    assert body["model"] and body["user_id"] == "u0"
    assert all(hit["taste_rank"] is not None for hit in body["items"])


def _ids_of(body: dict[str, Any]) -> list[str]:
    return [hit["item_id"] for hit in body["items"]]


def test_recommendations_about_a_query(shop: TestClient) -> None:
    response = shop.get(
        "/v1/users/ann/recommendations", params={"query": "fruit", "n": 2, "explain": True}
    )
    ids = _ids(response)
    assert len(ids) == 2 and set(ids) <= {"f0", "f3"}  # fruit ann has not liked yet
    explanation = response.json()["items"][0]["explanation"]
    assert explanation["reason"] in ("query", "query_and_taste")
    assert '"fruit"' in explanation["detail"]
    tools = _ids(shop.get("/v1/users/ann/recommendations", params={"query": "workshop tools"}))
    assert tools and all(i.startswith("t") for i in tools[:4])


def test_bad_queries_get_clear_errors(shop: TestClient) -> None:
    for params, code in [
        ({"q": ""}, "invalid_query"),
        ({"q": "   "}, "invalid_query"),
        ({"q": "x" * 501}, "invalid_query"),
        ({"q": "apple", "n": 0}, "validation_error"),
        ({"q": "apple", "filter": "price <"}, "invalid_filter"),
        ({}, "validation_error"),
    ]:
        response = shop.get("/v1/search", params=params)
        assert 400 <= response.status_code < 500 and response.json()["code"] == code, params
    response = shop.get("/v1/users/ann/recommendations", params={"query": " "})
    assert response.status_code == 422 and response.json()["code"] == "invalid_query"


def test_search_works_before_any_training(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    client.post("/v1/items", json=_catalogue())
    assert _ids(client.get("/v1/search", params={"q": "wrench"}))[0] == "t1"
    assert client.get("/v1/search", params={"q": "wrench", "user_id": "nobody"}).status_code == 200
