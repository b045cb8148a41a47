"""Item-based nearest neighbours: "customers who liked X also liked".

The item-item similarity (cosine, Pearson, Jaccard, BM25 or TF-IDF; see ``similarity``)
keeps the top-K neighbours per item. Scores for a user are ``history @ similarity``,
computed from the user's current history at request time, so a new event changes the next
answer without retraining.
"""

from __future__ import annotations

import scipy.sparse as sp

from recserve.algorithms.similarity import (
    ItemNeighbourhood,
    NeighbourhoodConfig,
    binarised,
    fit_row_similarity,
    positive_values,
    similarity_input,
)
from recserve.data import Dataset


class ItemKNNConfig(NeighbourhoodConfig):
    """Item-kNN hyperparameters: every field is shared with user-kNN (see NeighbourhoodConfig)."""


class ItemKNN(ItemNeighbourhood[ItemKNNConfig]):
    family = "item_knn"
    config_class = ItemKNNConfig

    def _fit(self, data: Dataset) -> None:
        # the similarity compares item rows: items x users
        items = sp.csr_matrix(similarity_input(data, self.config).T)
        self.similarity = fit_row_similarity(items, self.config).neighbours(self.config.neighbours)
        # the user's trained history is the fallback when the request brings none
        self.trained_history = positive_values(data, self.config.binary)

    def _prepare(self, history: sp.csr_matrix) -> sp.csr_matrix:
        return binarised(history) if self.config.binary else history
