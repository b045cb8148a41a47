import numpy as np

from recserve.algorithms import create
from recserve.data.dataset import POSITIVE
from tests.algorithms.behaviour import RecommenderBehaviour
from tests.synthetic import make_synthetic


class TestPopular(RecommenderBehaviour):
    family = "popular"
    knows_blocks = False


class TestPopularWithDecay(RecommenderBehaviour):
    family = "popular"
    params = {"half_life_days": 1.0}
    knows_blocks = False


def test_popular_ranks_by_distinct_positive_users() -> None:
    data = make_synthetic()
    model = create("popular").fit(data)
    positive = data.kind == POSITIVE
    counts = np.bincount(data.item[positive], minlength=data.n_items)
    _ids, scores = model.ranking(5)
    np.testing.assert_array_equal(scores, np.sort(counts)[::-1][:5])


def test_decay_prefers_recent_events() -> None:
    data = make_synthetic()
    # the same item liked once long ago versus once just now: only decay tells them apart
    old = data.timestamp < np.quantile(data.timestamp, 0.5)
    decayed = create("popular", half_life_days=0.5).fit(data)
    plain = create("popular").fit(data)
    recent_items = set(data.item[~old & (data.kind == POSITIVE)].tolist())
    top_decayed = set(decayed.ranking(10)[0].tolist())
    top_plain = set(plain.ranking(10)[0].tolist())
    assert len(top_decayed & recent_items) >= len(top_plain & recent_items)
    assert len(top_decayed & recent_items) == 10


def test_order_is_every_item_best_first_and_follows_a_refit() -> None:
    data = make_synthetic()
    model = create("popular").fit(data)
    order = model.order
    assert sorted(order.tolist()) == list(range(data.n_items))
    assert (np.diff(model.scores[order]) <= 0).all()
    assert model.order is order  # sorted once
    model.fit(data.subset(data.kind != POSITIVE))  # other scores: sorted again
    assert model.order is not order
    assert (np.diff(model.scores[model.order]) <= 0).all()
