"""SASRec: the inherited behaviour suite, plus what is particular to a sequence model."""

from __future__ import annotations

import itertools
import subprocess
import sys
from typing import Any

import numpy as np
import pydantic
import pytest

from recserve.algorithms import create
from recserve.algorithms.neural.sequences import (
    Ragged,
    holdout_last,
    ndcg_of_targets,
    next_item_pairs,
    pad,
    session_cuts,
    user_sequences,
    window_positions,
)
from recserve.config import default_feedback_types
from recserve.data import Dataset
from recserve.evaluation import leave_last_out
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import ITEMS_PER_BLOCK, item_block

# small and fast: the synthetic set has 60 users of 7 liked items each; one thread is the
# quickest for such tiny batches (and not slowed by other processes on a shared machine)
FAST: dict[str, Any] = {
    "embedding_dim": 16,
    "blocks": 1,
    "max_len": 10,
    "epochs": 30,
    "patience": 30,
    "batch_size": 16,
    "learning_rate": 1e-2,
    "dropout": 0.1,
    "threads": 1,
}


class TestSASRec(RecommenderBehaviour):
    family = "sasrec"
    params = FAST


class TestSASRecSampledSoftmax(RecommenderBehaviour):
    family = "sasrec"
    params = {**FAST, "loss": "sampled_softmax", "negatives": 16, "heads": 2}


# -- the sequence helpers ------------------------------------------------------------------


def _events(rows: list[tuple[str, str, float]]) -> Dataset:
    users, items, times = zip(*rows, strict=True)
    return Dataset.from_events(
        np.array(users, dtype=object),
        np.array(items, dtype=object),
        np.full(len(rows), "like", dtype=object),
        np.full(len(rows), np.nan),
        np.array(times),
        default_feedback_types(),
    )


def test_user_sequences_are_in_time_order_and_ties_keep_event_order() -> None:
    data = _events([("a", "x", 3.0), ("b", "y", 1.0), ("a", "y", 1.0), ("a", "z", 3.0)])
    sequences = user_sequences(data)
    x, y, z = data.items.index(["x", "y", "z"])
    assert sequences.row(data.users.get("a")).tolist() == [y, x, z]
    assert sequences.row(data.users.get("b")).tolist() == [y]
    # the splitter holds out the same last item
    split = leave_last_out(data)
    assert split.test.item[split.test.user == data.users.get("a")].tolist() == [z]


def _ragged(*rows: list[int]) -> Ragged:
    indptr = np.r_[0, np.cumsum([len(r) for r in rows])].astype(np.int64)
    return Ragged(indptr, np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]))


def test_windows_cover_every_transition_once() -> None:
    ragged = _ragged(list(range(10)), [7])
    positions = window_positions(ragged, max_len=4)
    cut = [ragged.values[p[p >= 0]].tolist() for p in positions]
    assert cut == [[5, 6, 7, 8, 9], [1, 2, 3, 4, 5], [0, 1]]
    transitions = {(a, b) for w in cut for a, b in itertools.pairwise(w)}
    assert transitions == {(i, i + 1) for i in range(9)}


@pytest.mark.parametrize("side", ["left", "right"])
def test_training_pairs_are_the_transitions_and_nothing_else(side: str) -> None:
    """Padded on either side, every (input, target) pair the loss sees is a real transition:
    the padding before a left-padded window's first item predicts nothing."""
    ragged = _ragged([0, 1, 2], [3, 4, 5, 6, 7], [8, 9])
    positions = window_positions(ragged, max_len=5, side=side)  # type: ignore[arg-type]
    tokens = np.where(positions >= 0, ragged.values[positions] + 1, 0)  # PAD = 0
    inputs, targets = next_item_pairs(tokens)
    counted = targets != 0
    assert ((inputs != 0) == counted).all()
    pairs = sorted(zip(inputs[counted] - 1, targets[counted] - 1, strict=True))
    assert pairs == [(0, 1), (1, 2), (3, 4), (4, 5), (5, 6), (6, 7), (8, 9)]


def test_padding_shifts_items_and_keeps_the_most_recent() -> None:
    rows = [np.array([0, 4]), np.array([1, 2, 3])]
    np.testing.assert_array_equal(pad(rows, "left"), [[0, 1, 5], [2, 3, 4]])
    np.testing.assert_array_equal(pad(rows, "right"), [[1, 5, 0], [2, 3, 4]])
    np.testing.assert_array_equal(pad(rows, "left", 2), [[1, 5], [3, 4]])


def test_sessions_split_at_long_gaps() -> None:
    times = np.array([0, 10, 500, 510, 0.0])
    ragged = Ragged(np.array([0, 4, 5]), np.array([1, 2, 3, 4, 5]), times)
    assert [s.tolist() for s in session_cuts(ragged, 60).rows()] == [[1, 2], [3, 4], [5]]
    assert [s.tolist() for s in session_cuts(ragged, None).rows()] == [[1, 2, 3, 4], [5]]


def test_holdout_takes_the_last_item_of_users_with_two_or_more() -> None:
    ragged = Ragged(np.array([0, 3, 4, 6]), np.array([1, 2, 3, 4, 5, 6]))
    train, users, targets = holdout_last(ragged, 10, np.random.default_rng(0))
    assert users.tolist() == [0, 2] and targets.tolist() == [3, 6]
    assert [r.tolist() for r in train.rows()] == [[1, 2], [4], [5]]
    assert holdout_last(ragged, 0, np.random.default_rng(0))[1].size == 0


def test_ndcg_of_targets_ranks_among_unseen_items() -> None:
    scores = np.array([[0.9, 0.8, 0.1, 0.5], [0.1, 0.2, 0.3, 0.4]])
    # row 0: item 0 is seen, so target 1 ranks first; row 1: target 0 ranks fourth
    value = ndcg_of_targets(scores, np.array([1, 0]), [np.array([0]), np.array([], int)], k=3)
    assert value == pytest.approx(0.5)


# -- model-specific behaviour ------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(request: pytest.FixtureRequest) -> Any:
    from tests.synthetic import make_synthetic

    return create("sasrec", **FAST).fit(make_synthetic())


def test_heads_must_divide_the_hidden_size() -> None:
    with pytest.raises(pydantic.ValidationError):
        create("sasrec", embedding_dim=10, heads=3)


def test_training_sequence_is_the_default_input(model: Any) -> None:
    users = np.array([0, 20, 45])
    given = [model.trained.row(u) for u in users]
    np.testing.assert_allclose(model.score(users), model.score(users, sequences=given), rtol=1e-5)
    # an empty sequence for a known user falls back to what training saw
    np.testing.assert_allclose(
        model.score(users[:1]), model.score(users[:1], sequences=[np.array([], int)]), rtol=1e-5
    )


def test_order_matters_and_the_latest_item_counts_most(model: Any) -> None:
    a = np.arange(0, 3)  # block 0
    b = np.arange(2 * ITEMS_PER_BLOCK, 2 * ITEMS_PER_BLOCK + 3)  # block 2
    ab = model.score(np.array([-1]), sequences=[np.r_[a, b]])
    ba = model.score(np.array([-1]), sequences=[np.r_[b, a]])
    assert not np.allclose(ab, ba)
    ids, _ = model.recommend(np.array([-1, -1]), n=1, sequences=[np.r_[a, b], np.r_[b, a]])
    assert [item_block(i) for i in ids[:, 0]] == [2, 0]


def test_items_outside_the_model_and_too_long_sequences_are_handled(model: Any) -> None:
    long = np.tile(np.arange(ITEMS_PER_BLOCK), 5)  # 60 items of block 0, max_len is 10
    ids, _ = model.recommend(np.array([-1, -1]), n=3, sequences=[long, np.array([-1, 10_000])])
    assert {item_block(i) for i in ids[0]} == {0}
    assert (ids[1] == -1).all(), "a sequence of unknown items gives no signal"
    np.testing.assert_allclose(
        model.score(np.array([-1]), sequences=[long]),
        model.score(np.array([-1]), sequences=[long[-10:]]),
        rtol=1e-5,
    )


def test_history_without_order_serves_an_unknown_user(model: Any) -> None:
    import scipy.sparse as sp

    items = np.arange(3 * ITEMS_PER_BLOCK, 3 * ITEMS_PER_BLOCK + 4)
    history = sp.csr_matrix((np.ones(4), (np.zeros(4, int), items)), shape=(1, model.n_items))
    assert model.has_signal(np.array([-1]), history).tolist() == [True]
    ids, _ = model.recommend(np.array([-1]), history=history, n=3, exclude=history)
    assert {item_block(i) for i in ids[0]} == {3}


def test_validation_picks_the_best_epoch(model: Any) -> None:
    scores = [h.validation for h in model.history]
    assert all(s is not None for s in scores)
    assert max(scores) > 0.2, "held-out last items are ranked far better than chance"


def test_no_validation_trains_every_epoch() -> None:
    from tests.synthetic import make_synthetic

    trained = create("sasrec", **{**FAST, "epochs": 3, "validation_users": 0}).fit(make_synthetic())
    assert [h.validation for h in trained.history] == [None] * 3


def test_importing_the_model_modules_does_not_import_torch() -> None:
    code = (
        "import sys, recserve.algorithms as a; "
        "assert {'sasrec', 'gru4rec'} <= set(a.FAMILIES); "
        "assert 'torch' not in sys.modules, 'torch imported at discovery'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_runs_on_cuda_when_present() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from tests.synthetic import make_synthetic

    data = make_synthetic()
    on_gpu = create("sasrec", **{**FAST, "device": "cuda"}).fit(data)
    assert next(on_gpu.module.parameters()).is_cuda
    ids, _ = on_gpu.recommend(np.arange(data.n_users), n=5, exclude=data.seen_matrix())
    hits = [item_block(i) == u // 15 for u, row in enumerate(ids) for i in row if i >= 0]
    assert np.mean(hits) >= 0.8


def test_auto_loss_samples_negatives_for_large_catalogues(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from recserve.algorithms.neural import sequences
    from tests.synthetic import make_synthetic

    data = make_synthetic()
    fast = {**FAST, "epochs": 1, "negatives": 8}

    def first_loss(loss: str) -> float:
        return create("sasrec", **{**fast, "loss": loss}).fit(data).history[0].loss

    auto, full, sampled = first_loss("auto"), first_loss("softmax"), first_loss("sampled_softmax")
    assert auto == full != sampled  # 48 items: the whole catalogue
    monkeypatch.setattr(sequences, "FULL_SOFTMAX_ITEMS", 10)
    assert first_loss("auto") == sampled
