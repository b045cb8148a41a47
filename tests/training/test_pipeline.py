"""Which models a training run picks: by name, family and scenario, and by what the data has."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recserve.algorithms import FAMILIES
from recserve.training.pipeline import DEFAULT_MODELS, applicable, select_models
from tests.synthetic import make_synthetic


def test_default_models_cover_the_scenarios() -> None:
    served = {s for _, _, scenarios in DEFAULT_MODELS.values() for s in scenarios}
    assert {"recommended", "similar_items", "popular", "trending", "latest"} <= served
    assert {"because_you_liked", "frequently_bought_together"} <= served
    assert DEFAULT_MODELS["cooccurrence"][1] == {"session_gap_minutes": 30}
    assert "gru4rec" not in DEFAULT_MODELS  # minutes on the demo data: opt-in by name


def test_select_models_by_name_family_and_scenario() -> None:
    assert list(select_models(["popular", "item_knn"])) == ["popular", "item_knn"]
    assert select_models(["als"]) == {"als": ("als", {}, ("recommended",))}
    assert select_models(["gru4rec"])["gru4rec"][2] == ("session",)
    recommended = select_models(None, ["recommended"])
    assert set(recommended) == {"item_knn", "ease"}
    assert recommended["item_knn"][2] == ("recommended",)
    with pytest.raises(ValueError, match="no_such_model"):
        select_models(["no_such_model"])


@pytest.mark.skipif("social" not in FAMILIES, reason="the social family is not installed")
def test_the_social_model_needs_relations() -> None:
    data = make_synthetic()
    assert "social" in DEFAULT_MODELS
    assert applicable("social", data) == (data.relations is not None and len(data.relations[0]) > 0)
    empty = np.empty(0, dtype=np.int64)
    assert not applicable("social", replace(data, relations=(empty, empty)))
    assert applicable("item_knn", replace(data, relations=None))


def test_a_capped_model_is_left_out_of_a_larger_catalogue() -> None:
    """EASE's dense item-item matrix has a size cap: above it the run trains the others."""
    data = make_synthetic()
    assert applicable("ease", data, {})
    assert not applicable("ease", data, {"max_items": data.n_items - 1})
    assert applicable("item_knn", data, {"neighbours": 5})
