import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydantic
import pytest
import scipy.sparse as sp

from recserve.algorithms import ModelConfig, Recommender, create
from recserve.algorithms.base import REGISTERED
from recserve.algorithms.hybrid import Hybrid, reciprocal_rank
from recserve.data import Dataset, Vocabulary
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.algorithms.test_content import COLD, with_new_items
from tests.synthetic import item_block, make_synthetic

MEMBERS = [
    {"family": "item_knn", "params": {"neighbours": 20}, "weight": 1.0},
    {"family": "tfidf", "weight": 0.5},
    {"family": "popular", "weight": 0.2},
]


class TestHybrid(RecommenderBehaviour):
    family = "hybrid"
    params = {"members": MEMBERS}


class TestHybridWithUserKNN(RecommenderBehaviour):
    family = "hybrid"
    params = {
        "members": [
            {"family": "user_knn", "params": {"neighbours": 10}},
            {"family": "cooccurrence", "params": {"neighbours": 20}, "weight": 0.5},
        ],
        "rrf_k": 10,
    }


@pytest.fixture(scope="module")
def data() -> Dataset:
    """Synthetic data plus a cold item with text and a known user without any event."""
    base = with_new_items(make_synthetic(), COLD)
    users = Vocabulary([*base.users.ids.tolist(), "newbie"])
    return replace(base, users=users, _cache={})


@pytest.fixture(scope="module")
def model(data: Dataset) -> Hybrid:
    model = create("hybrid", members=MEMBERS).fit(data)
    assert isinstance(model, Hybrid)
    return model


def test_a_known_user_without_signal_gets_the_fallback(model: Hybrid, data: Dataset) -> None:
    newbie = np.array([data.users.get("newbie")])
    popular = model.members[2]
    assert model.has_signal(newbie)[0] and not model.members[0].has_signal(newbie)[0]
    ids, _ = model.recommend(newbie, n=5)
    counts = popular.score(newbie)[0]
    np.testing.assert_array_equal(counts[ids[0]], popular.recommend(newbie, n=5)[1][0])


def test_a_history_only_content_can_read_switches_to_content(model: Hybrid, data: Dataset) -> None:
    cold = data.items.get("cold-jazz")
    history = sp.csr_matrix(([1.0], ([0], [cold])), shape=(1, data.n_items))
    # item-kNN has the history but no neighbours for a cold item: nothing to rank with
    assert model.members[0].has_signal(np.array([-1]), history)[0]
    assert np.ptp(model.members[0].score(np.array([-1]), history)) == 0
    ids, _ = model.recommend(np.array([-1]), history, n=5, exclude=history)
    tfidf_ids, _ = model.members[1].recommend(np.array([-1]), history, n=5, exclude=history)
    np.testing.assert_array_equal(ids, tfidf_ids)
    assert [item_block(i) for i in ids[0]] == [0] * 5


def test_an_unknown_user_without_history_is_left_to_the_caller(model: Hybrid) -> None:
    assert not model.has_signal(np.array([-1]))[0]
    assert (model.recommend(np.array([-1]), n=3)[0] == -1).all()


def test_without_a_fallback_member_a_cold_user_gets_nothing(data: Dataset) -> None:
    model = create("hybrid", members=MEMBERS[:2]).fit(data)
    ids, _ = model.recommend(np.array([data.users.get("newbie")]), n=3)
    assert (ids == -1).all()


def test_similar_items_come_from_members_that_have_them(model: Hybrid, data: Dataset) -> None:
    assert model.supports_similar_items and not model.supports_similar_users
    ids, _ = model.similar_items(np.array([data.items.get("cold-jazz"), 5]), n=4)
    assert [item_block(i) for i in ids.ravel()] == [0] * 8


def test_members_are_saved_inside_the_hybrid(model: Hybrid, tmp_path: Path) -> None:
    model.save(tmp_path / "h")
    with np.load(tmp_path / "h" / "arrays.npz", allow_pickle=False) as npz:
        names = set(npz.files)
    assert "state.member0.similarity.data" in names and "state.member2.scores" in names
    config = json.loads((tmp_path / "h" / "config.json").read_text())["config"]
    assert [m["family"] for m in config["members"]] == ["item_knn", "tfidf", "popular"]
    assert config["members"][0]["params"] == {"neighbours": 20}
    loaded = Hybrid.load(tmp_path / "h")
    assert [type(m) for m in loaded.members] == [type(m) for m in model.members]


def test_member_specs_are_validated() -> None:
    with pytest.raises(pydantic.ValidationError, match="unknown model family"):
        create("hybrid", members=[{"family": "no_such_family"}])
    with pytest.raises(pydantic.ValidationError):
        create("hybrid", members=[{"family": "item_knn", "params": {"neighbours": -1}}])
    with pytest.raises(pydantic.ValidationError):
        create("hybrid", members=[])
    roles = create("hybrid", members=[*MEMBERS, {"family": "trending", "role": "collaborative"}])
    assert isinstance(roles, Hybrid)
    assert roles.roles == ["collaborative", "content", "fallback", "collaborative"]


def test_reciprocal_rank_shares_ranks_between_ties() -> None:
    scores = np.array([[3.0, 1.0, 1.0, 0.0, -np.inf]])
    np.testing.assert_allclose(
        reciprocal_rank(scores, depth=10, k=0), [[1, 1 / 2, 1 / 2, 1 / 4, 0]]
    )
    # depth 2: the tie at the cut is kept whole, the rest gets nothing
    np.testing.assert_allclose(reciprocal_rank(scores, depth=2, k=0), [[1, 1 / 2, 1 / 2, 0, 0]])


class _NextItem(Recommender[ModelConfig]):
    """A stand-in order-aware model: after item i comes item i + 1."""

    uses_sequence = True

    def _fit(self, data: Dataset) -> None:
        pass

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self._score_sequences(users, history, None)

    def _score_sequences(
        self, users: np.ndarray, history: sp.csr_matrix, sequences: Sequence[np.ndarray] | None
    ) -> np.ndarray:
        scores = np.zeros((len(users), self.n_items), np.float32)
        for row, seq in enumerate(sequences or []):
            if len(seq):
                scores[row, (seq[-1] + 1) % self.n_items] = 1.0
        return scores

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        pass


def test_sequences_reach_order_aware_members(monkeypatch: pytest.MonkeyPatch) -> None:
    _NextItem.family = "next_item"  # set after class creation: not registered for good
    monkeypatch.setitem(REGISTERED, "next_item", _NextItem)
    model = create(
        "hybrid", members=[{"family": "item_knn"}, {"family": "next_item", "weight": 2.0}]
    ).fit(make_synthetic())
    assert model.uses_sequence
    sequences = [np.array([7, 30])]
    assert not model.has_signal(np.array([-1]))[0]
    assert model.has_signal(np.array([-1]), sequences=sequences)[0]
    ids, _ = model.recommend(np.array([-1]), n=1, sequences=sequences)
    assert ids[0, 0] == 31


def test_from_fitted_fuses_without_refitting_and_matches_a_fit() -> None:
    data = make_synthetic()
    members = [create("item_knn", neighbours=20).fit(data), create("popular").fit(data)]
    fused = Hybrid.from_fitted(members, data)
    assert fused.members[0] is members[0] and fused.members[1] is members[1]
    fitted = create("hybrid", **fused.config.model_dump()).fit(data)
    users = np.arange(20)
    assert np.array_equal(fused.recommend(users, n=5)[0], fitted.recommend(users, n=5)[0])
    smaller = data.subset(data.item != data.n_items - 1)  # the same item vocabulary
    Hybrid.from_fitted([members[0], create("popular").fit(smaller)], data)
    elsewhere = replace(smaller, items=Vocabulary(["x", "y"]))
    with pytest.raises(ValueError, match="same data"):
        Hybrid.from_fitted([members[0]], elsewhere)
