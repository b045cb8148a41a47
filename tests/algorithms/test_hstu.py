"""HSTU: the inherited behaviour suite, plus what is particular to it (times, sizes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pydantic
import pytest

from recserve.algorithms import FAMILIES, create
from recserve.data import Dataset
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import ITEMS_PER_BLOCK, item_block, make_synthetic

# small and fast, like SASRec's test settings
FAST: dict[str, Any] = {
    "size": "tiny",
    "max_len": 10,
    "epochs": 30,
    "patience": 30,
    "batch_size": 16,
    "learning_rate": 1e-2,
    "dropout": 0.1,
    "threads": 1,
}


class TestHSTU(RecommenderBehaviour):
    family = "hstu"
    params = FAST


class TestHSTUSampledSoftmaxTwoHeads(RecommenderBehaviour):
    family = "hstu"
    params = {**FAST, "loss": "sampled_softmax", "negatives": 16, "heads": 2}


@pytest.fixture(scope="module")
def data() -> Dataset:
    return make_synthetic()


@pytest.fixture(scope="module")
def model(data: Dataset) -> Any:
    return create("hstu", **FAST).fit(data)


def test_sizes_are_presets_that_explicit_fields_override() -> None:
    assert (create("hstu", size="large").config.embedding_dim, create("hstu").config.blocks) == (
        256,
        2,
    )
    config = create("hstu", size="medium", blocks=1).config
    assert (config.embedding_dim, config.blocks, config.heads) == (128, 1, 2)
    with pytest.raises(pydantic.ValidationError):
        create("hstu", size="huge")
    with pytest.raises(pydantic.ValidationError):
        create("hstu", embedding_dim=10, heads=3)


def test_registered_as_a_family_that_reads_sequences_and_times() -> None:
    cls = FAMILIES["hstu"]
    assert cls.uses_sequence and cls.uses_times


def test_order_matters_and_the_latest_item_counts_most(model: Any) -> None:
    a = np.arange(0, 3)  # block 0
    b = np.arange(2 * ITEMS_PER_BLOCK, 2 * ITEMS_PER_BLOCK + 3)  # block 2
    ab = model.score(np.array([-1]), sequences=[np.r_[a, b]])
    ba = model.score(np.array([-1]), sequences=[np.r_[b, a]])
    assert not np.allclose(ab, ba)
    ids, _ = model.recommend(np.array([-1, -1]), n=1, sequences=[np.r_[a, b], np.r_[b, a]])
    assert [item_block(i) for i in ids[:, 0]] == [2, 0]


def test_training_times_are_kept_for_serving_and_persisted(model: Any, tmp_path: Any) -> None:
    assert model.trained.times is not None
    users = np.array([0, 20, 45])
    with_times = model.score(users)  # the training sequence, with its times
    without = model.score(users, sequences=[model.trained.row(u) for u in users])
    assert not np.allclose(with_times, without), "the time bias takes part"
    model.save(tmp_path / "hstu")
    again = type(model).load(tmp_path / "hstu")
    np.testing.assert_allclose(again.score(users), with_times, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(again.trained.times, model.trained.times)


def test_time_bias_can_be_switched_off(data: Dataset) -> None:
    plain = create("hstu", **{**FAST, "epochs": 2, "time_bias": False}).fit(data)
    assert plain.module.time_bias is None
    users = np.array([0, 20])
    np.testing.assert_allclose(
        plain.score(users),
        plain.score(users, sequences=[plain.trained.row(u) for u in users]),
        rtol=1e-5,
        atol=1e-6,
    )


def test_a_candidate_of_the_training_search_only_where_torch_is(
    data: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recserve.training import pipeline

    assert pipeline.applicable("hstu", data)
    assert pipeline.select_models(["hstu"]) == {"hstu": ("hstu", {}, ("recommended",))}
    monkeypatch.setattr(pipeline, "torch_available", lambda: False)
    assert not pipeline.applicable("hstu", data)
