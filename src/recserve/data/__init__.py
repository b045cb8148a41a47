"""From a store snapshot to what models train on: vocabularies, events, matrices, features."""

from recserve.data.dataset import Dataset, ItemFeatures
from recserve.data.vocab import Vocabulary

__all__ = ["Dataset", "ItemFeatures", "Vocabulary"]
