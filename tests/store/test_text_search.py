"""Lexical item search on the real databases: the index follows writes at once."""

from __future__ import annotations

import pytest

from recserve.store import Store
from recserve.store.text_search import query_terms

ITEMS = [
    {"item_id": "dune", "title": "Dune", "text": "Desert planet, spice and sandworms.",
     "categories": ["Sci-Fi"], "tags": ["epic"]},
    {"item_id": "alien", "title": "Alien", "text": "A crew meets a deadly creature in space.",
     "categories": ["Sci-Fi", "Horror"], "tags": ["space"]},
    {"item_id": "toy", "title": "Toy Story", "text": "Toys come alive when nobody looks.",
     "categories": ["Animation", "Children"], "tags": ["pixar"]},
    {"item_id": "amelie", "title": "Amélie", "text": "A shy waitress in Paris.",
     "categories": ["Romance"], "tags": []},
    {"item_id": "heat", "title": "Heat", "text": "A thief and a detective in Los Angeles.",
     "categories": ["Crime"], "tags": ["heist"]},
]  # fmt: skip


@pytest.fixture
def store(database_url: str) -> Store:
    store = Store.open(database_url)
    store.items.upsert(ITEMS)
    yield store
    store.close()


def _ids(store: Store, text: str, limit: int = 10) -> list[str]:
    return [item_id for item_id, _ in store.text_search.search(text, limit)]


def test_title_category_tag_and_text_words_match(store: Store) -> None:
    assert _ids(store, "dune")[0] == "dune"
    assert set(_ids(store, "horror")) == {"alien"}
    assert _ids(store, "pixar") == ["toy"]
    assert _ids(store, "sandworms") == ["dune"]
    assert _ids(store, "toy")[0] == "toy"
    assert _ids(store, "sandw") == ["dune"]  # a word's start is enough
    assert _ids(store, "amélie") == ["amelie"]


def test_any_word_matches_and_more_words_rank_higher(store: Store) -> None:
    found = _ids(store, "space horror creature")
    assert found[0] == "alien"
    assert "dune" not in found and "heat" not in found
    assert set(_ids(store, "heist pixar")) == {"heat", "toy"}


def test_scores_are_best_first(store: Store) -> None:
    scores = [score for _, score in store.text_search.search("sci-fi space", 10)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 2


def test_writes_hides_and_deletes_reach_the_index_at_once(store: Store) -> None:
    store.items.upsert([{"item_id": "jaws", "title": "Jaws", "text": "A shark at the beach."}])
    assert _ids(store, "shark") == ["jaws"]
    store.items.patch("jaws", {"title": "Jaws 2", "text": "Another summer by the sea."})
    assert _ids(store, "shark") == [] and _ids(store, "summer") == ["jaws"]
    store.items.patch("jaws", {"hidden": True})
    assert _ids(store, "summer") == []
    store.items.patch("jaws", {"hidden": False})
    store.delete_item("jaws")
    assert _ids(store, "summer") == []


def test_query_syntax_never_reaches_the_engine(store: Store) -> None:
    for hostile in ['"', "dune AND", "NEAR(dune", "dune*:", "' OR 1=1 --", "!&|():*", "   "]:
        store.text_search.search(hostile, 5)  # no error
    assert _ids(store, '"dune" OR') == ["dune"]
    assert store.text_search.search("", 5) == []


def test_query_terms() -> None:
    assert query_terms("Star  wars: A NEW hope, star!") == ["star", "wars", "a", "new", "hope"]
    assert query_terms("¿Amélie?") == ["amélie"]
    assert query_terms("***") == []
