"""GRU4Rec: the inherited behaviour suite, plus sessions and anonymous sessions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from recserve.algorithms import create
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import ITEMS_PER_BLOCK, item_block, make_synthetic

FAST: dict[str, Any] = {
    "embedding_dim": 16,
    "hidden_size": 16,
    "max_len": 10,
    "epochs": 30,
    "patience": 30,
    "batch_size": 16,
    "learning_rate": 1e-2,
    "dropout": 0.1,
    "threads": 1,
}


class TestGRU4Rec(RecommenderBehaviour):
    family = "gru4rec"
    params = FAST


class TestGRU4RecSessions(RecommenderBehaviour):
    """Sessions cut at pauses over 45 minutes (synthetic events are 1-60 minutes apart, so
    sessions hold about four items), with sampled softmax."""

    family = "gru4rec"
    params = {**FAST, "session_gap_minutes": 45.0, "loss": "sampled_softmax", "negatives": 16}


class TestGRU4RecTwoLayers(RecommenderBehaviour):
    family = "gru4rec"
    params = {**FAST, "layers": 2}


@pytest.fixture(scope="module")
def model() -> Any:
    return create("gru4rec", **FAST).fit(make_synthetic())


def test_an_anonymous_session_is_served_from_its_own_events(model: Any) -> None:
    session = np.arange(3 * ITEMS_PER_BLOCK, 3 * ITEMS_PER_BLOCK + 2)
    assert model.has_signal(np.array([-1]), sequences=[session]).tolist() == [True]
    assert model.has_signal(np.array([-1]), sequences=[np.array([], int)]).tolist() == [False]
    ids, _ = model.recommend(np.array([-1]), n=3, sequences=[session])
    assert {item_block(i) for i in ids[0]} == {3}


def test_the_latest_items_steer_the_answer(model: Any) -> None:
    a = np.arange(0, 3)
    b = np.arange(ITEMS_PER_BLOCK, ITEMS_PER_BLOCK + 3)
    ids, _ = model.recommend(np.array([-1, -1]), n=1, sequences=[np.r_[a, b], np.r_[b, a]])
    assert [item_block(i) for i in ids[:, 0]] == [1, 0]


def test_right_padding_does_not_change_the_state(model: Any) -> None:
    short, long = np.array([5]), np.arange(0, 9)
    together = model.score(np.array([-1, -1]), sequences=[short, long])
    alone = model.score(np.array([-1]), sequences=[short])
    np.testing.assert_allclose(together[0], alone[0], rtol=1e-4, atol=1e-5)


def test_sessions_change_what_is_learned() -> None:
    data = make_synthetic()
    whole = create("gru4rec", **{**FAST, "epochs": 2})
    cut = create("gru4rec", **{**FAST, "epochs": 2, "session_gap_minutes": 45.0})
    from recserve.algorithms.neural.sequences import user_sequences

    sequences = user_sequences(data)
    cut_lengths = cut._training_sequences(sequences).lengths
    whole_lengths = whole._training_sequences(sequences).lengths
    assert len(cut_lengths) > len(whole_lengths)
    # sessions of one event teach no transition: fewer items are learned from
    assert cut_lengths[cut_lengths >= 2].sum() < whole_lengths[whole_lengths >= 2].sum()
