"""Which families the model search tries: data-driven, cheap first, reasons for the rest."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recserve.training import candidates
from recserve.training.candidates import SEARCH_ORDER, ordered_share, search_families
from tests.synthetic import make_synthetic


def test_ordered_events_with_text_and_relations_get_every_family(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(candidates, "NEURAL_MIN_EVENTS", 0)
    data = make_synthetic()
    chosen, skipped = search_families(data)
    assert chosen[:4] == ["popular", "item_knn", "ease", "als"]
    assert chosen == [f for f in SEARCH_ORDER if f in chosen]  # the search order
    assert {"tfidf", "social", "sasrec", "gru4rec"} <= set(chosen)
    assert not set(chosen) & set(skipped)
    assert ordered_share(data) == 1.0


def test_without_timestamps_text_or_relations_those_families_are_skipped() -> None:
    data = make_synthetic()
    bare = replace(
        data,
        timestamp=np.zeros_like(data.timestamp),
        item_features=None,
        relations=None,
    )
    chosen, skipped = search_families(bare)
    assert ordered_share(bare) == 0.0
    assert "time order" in skipped["sasrec"] and "time order" in skipped["gru4rec"]
    assert "text" in skipped["tfidf"] and "relations" in skipped["social"]
    assert {"popular", "item_knn", "ease", "als", "bpr", "user_knn"} <= set(chosen)


def test_a_named_list_is_kept_in_its_order_and_unknown_names_raise() -> None:
    chosen, _ = search_families(make_synthetic(), ["als", "ease", "als"])
    assert chosen == ["als", "ease"]
    with pytest.raises(ValueError, match="unknown families"):
        search_families(make_synthetic(), ["nope"])


def test_events_on_one_item_sent_together_do_not_make_a_log_unordered() -> None:
    """A like and a purchase of the same item carry one timestamp; the steps from item to
    item are what order means, so such a log still counts as ordered."""
    data = make_synthetic()
    twice = replace(
        data,
        user=np.repeat(data.user, 2),
        item=np.repeat(data.item, 2),
        timestamp=np.repeat(data.timestamp, 2),
        kind=np.repeat(data.kind, 2),
        weight=np.repeat(data.weight, 2),
        is_rating=np.repeat(data.is_rating, 2),
        value=np.repeat(data.value, 2),
        _cache={},
    )
    assert ordered_share(twice) == 1.0


def test_torch_families_are_left_out_of_a_tiny_data_set() -> None:
    """540 events (60 users): a validation score of a few dozen users picks noise."""
    chosen, skipped = search_families(make_synthetic())
    assert not {"sasrec", "hstu", "gru4rec", "two_tower"} & set(chosen)
    assert "too little data" in skipped["sasrec"]
