"""The behavioural suite every model family inherits.

A model's test file is a few lines::

    class TestItemKNN(RecommenderBehaviour):
        family = "item_knn"
        params = {"neighbours": 20}

Class attributes switch checks that do not apply to a family (documented below).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pydantic
import pytest
import scipy.sparse as sp

from recserve.algorithms import FAMILIES, NotFittedError, Recommender, create
from recserve.data import Dataset
from tests.synthetic import (
    BLOCKS,
    ITEMS_PER_BLOCK,
    item_block,
    make_synthetic,
    rating_synthetic,
    user_block,
)


class RecommenderBehaviour:
    family: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}
    # the known-answer check: share of a user's top-5 unseen items from their own block
    min_block_precision: ClassVar[float] = 0.8
    # False for models whose answer is not about taste blocks (popularity, recency)
    knows_blocks: ClassVar[bool] = True

    # -- fixtures ----------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> Dataset:
        return make_synthetic()

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls, data: Dataset) -> Recommender[Any]:
        return create(cls.family, **cls.params).fit(data)

    # -- the protocol --------------------------------------------------------------------------

    def test_registered(self) -> None:
        assert FAMILIES[self.family].family == self.family

    def test_config_round_trips_and_rejects_unknown_params(self) -> None:
        model = create(self.family, **self.params)
        again = type(model.config).model_validate_json(model.config.model_dump_json())
        assert again == model.config
        with pytest.raises(pydantic.ValidationError):
            create(self.family, no_such_parameter=1)

    def test_unfitted_model_raises(self) -> None:
        with pytest.raises(NotFittedError):
            create(self.family, **self.params).recommend(np.array([0]), n=3)

    def test_recommend_shapes_and_order(self, model: Recommender[Any], data: Dataset) -> None:
        users = np.arange(8)
        ids, scores = model.recommend(users, n=5)
        assert ids.shape == (8, 5) and scores.shape == (8, 5)
        assert ids.dtype == np.int64 and scores.dtype == np.float32
        assert ((ids >= -1) & (ids < data.n_items)).all()
        finite = np.where(np.isfinite(scores), scores, -np.inf)
        assert (np.diff(finite, axis=1) <= 1e-6).all(), "scores must be sorted best first"
        for row in ids:
            real = row[row >= 0]
            assert len(set(real.tolist())) == len(real), "no duplicates in a list"

    def test_excluded_items_never_come_back(self, model: Recommender[Any], data: Dataset) -> None:
        users = np.arange(6)
        seen = data.seen_matrix()[users]
        ids, _ = model.recommend(users, n=data.n_items, exclude=seen)
        for u, row in enumerate(ids):
            assert not set(row[row >= 0].tolist()) & set(seen[u].indices.tolist())

    def test_n_larger_than_catalogue_is_padded(
        self, model: Recommender[Any], data: Dataset
    ) -> None:
        ids, scores = model.recommend(np.array([0]), n=data.n_items + 7)
        assert ids.shape == (1, data.n_items + 7)
        assert (ids[0, data.n_items :] == -1).all()
        assert np.isneginf(scores[0, data.n_items :]).all()

    def test_unknown_user_without_history_gets_no_error(self, model: Recommender[Any]) -> None:
        ids, _scores = model.recommend(np.array([-1, 0]), n=4)
        if model.personalised:
            assert (ids[0] == -1).all(), "an unknown user with no history is for the fallback"
        else:
            assert (ids[0] >= 0).all()
        assert (ids[1] >= 0).any()

    def test_empty_history_is_accepted(self, model: Recommender[Any], data: Dataset) -> None:
        history = sp.csr_matrix((2, data.n_items), dtype=np.float32)
        ids, _ = model.recommend(np.array([0, 1]), history=history, n=3)
        assert ids.shape == (2, 3)

    def test_history_of_wrong_shape_is_refused(
        self, model: Recommender[Any], data: Dataset
    ) -> None:
        with pytest.raises(ValueError):
            model.recommend(np.array([0]), history=sp.csr_matrix((1, data.n_items + 1)), n=3)

    def test_batch_equals_single(self, model: Recommender[Any], data: Dataset) -> None:
        users = np.array([3, 17, 42, -1])
        seen = data.seen_matrix()[np.clip(users, 0, None)]
        ids, scores = model.recommend(users, n=6, exclude=seen)
        for k, u in enumerate(users):
            one_ids, one_scores = model.recommend(np.array([u]), n=6, exclude=seen[k])
            np.testing.assert_allclose(one_scores[0], scores[k], rtol=1e-4, atol=1e-5)
            finite = np.isfinite(scores[k])
            np.testing.assert_array_equal(one_ids[0][finite], ids[k][finite])

    def test_save_load_round_trip(self, model: Recommender[Any], tmp_path: Path) -> None:
        model.save(tmp_path / "m")
        assert not list((tmp_path / "m").glob("*.pkl"))
        loaded = type(model).load(tmp_path / "m")
        assert loaded.config == model.config and loaded.items == model.items
        users = np.array([0, 5, 30, -1])
        np.testing.assert_allclose(loaded.score(users), model.score(users), rtol=1e-5, atol=1e-6)

    def test_deterministic_with_a_seed(self, model: Recommender[Any], data: Dataset) -> None:
        again = create(self.family, **self.params).fit(data)
        users = np.arange(10)
        np.testing.assert_allclose(again.score(users), model.score(users), rtol=1e-4, atol=1e-5)

    def test_known_answer_blocks(self, model: Recommender[Any], data: Dataset) -> None:
        if not (self.knows_blocks and model.personalised):
            pytest.skip(f"{self.family} does not learn taste blocks")
        users = np.arange(data.n_users)
        ids, _ = model.recommend(users, n=5, exclude=data.seen_matrix())
        hits = [
            item_block(i) == user_block(u)
            for u, row in zip(users, ids, strict=True)
            for i in row
            if i >= 0
        ]
        assert len(hits) >= 0.9 * 5 * len(users)
        assert np.mean(hits) >= self.min_block_precision

    def test_history_changes_the_answer(self, model: Recommender[Any], data: Dataset) -> None:
        """A model that reads request-time history must follow a user's new taste at once."""
        if not model.uses_history:
            pytest.skip(f"{self.family} does not read request-time history")
        target_block = 2
        liked = np.arange(target_block * ITEMS_PER_BLOCK, target_block * ITEMS_PER_BLOCK + 5)
        history = sp.csr_matrix(
            (np.ones(5, np.float32), (np.zeros(5, int), liked)), shape=(1, data.n_items)
        )
        ids, _ = model.recommend(np.array([-1]), history=history, n=3, exclude=history)
        assert [item_block(i) for i in ids[0]] == [target_block] * 3

    def test_sequence_changes_the_answer(self, model: Recommender[Any], data: Dataset) -> None:
        """An order-aware model must follow the sequence given at request time."""
        if not model.uses_sequence:
            pytest.skip(f"{self.family} does not read request-time sequences")
        target_block = 1
        recent = np.arange(target_block * ITEMS_PER_BLOCK, target_block * ITEMS_PER_BLOCK + 5)
        exclude = sp.csr_matrix(
            (np.ones(5, np.float32), (np.zeros(5, int), recent)), shape=(1, data.n_items)
        )
        ids, _ = model.recommend(np.array([-1]), n=3, exclude=exclude, sequences=[recent])
        assert np.mean([item_block(i) == target_block for i in ids[0]]) >= 2 / 3
        with pytest.raises(ValueError):
            model.recommend(np.array([0, 1]), n=3, sequences=[recent])

    def test_similar_items(self, model: Recommender[Any], data: Dataset) -> None:
        if not model.supports_similar_items:
            pytest.skip(f"{self.family} has no item similarity")
        items = np.arange(0, data.n_items, 5)
        ids, scores = model.similar_items(np.append(items, -1), n=4)
        assert scores.shape == ids.shape
        assert ids.shape == (len(items) + 1, 4)
        assert (ids[-1] == -1).all(), "an unknown item has no neighbours"
        for i, row in zip(items, ids[:-1], strict=True):
            assert i not in row.tolist(), "an item is not its own neighbour"
        same = [
            item_block(j) == item_block(i)
            for i, row in zip(items, ids, strict=False)
            for j in row
            if j >= 0
        ]
        assert np.mean(same) >= 0.8

    def test_similar_users(self, model: Recommender[Any], data: Dataset) -> None:
        if not model.supports_similar_users:
            pytest.skip(f"{self.family} has no user similarity")
        users = np.arange(0, data.n_users, 7)
        ids, _ = model.similar_users(np.append(users, -1), n=4)
        assert (ids[-1] == -1).all()
        same = [
            user_block(v) == user_block(u)
            for u, row in zip(users, ids, strict=False)
            for v in row
            if v >= 0
        ]
        assert np.mean(same) >= 0.8

    def test_rating_predictions(self, model: Recommender[Any], data: Dataset) -> None:
        if not model.predicts_ratings:
            pytest.skip(f"{self.family} does not predict ratings")
        u, i, r = data.ratings()
        predicted = model.predict_ratings(u, i)
        assert predicted.shape == r.shape and np.isfinite(predicted).all()
        assert np.sqrt(np.mean((predicted - r) ** 2)) < 1.0
        unknown = model.predict_ratings(np.array([-1, 0]), np.array([0, -1]))
        assert np.isfinite(unknown).all()


assert BLOCKS >= 3


class RatingBehaviour(RecommenderBehaviour):
    """The suite for explicit-rating models, on data where users also rate other blocks
    badly (with only own-block ratings, a low-rank fit cannot tell blocks b+2 from b)."""

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> Dataset:
        return rating_synthetic()
