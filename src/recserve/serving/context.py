"""What a serving scenario reads from the engine: its public interface.

``serving/scenarios.py`` is written against this protocol, not the engine class, so the
engine can import the scenarios without the scenarios importing the engine.
"""

from __future__ import annotations

from typing import Protocol

from recserve.data import Vocabulary
from recserve.serving.catalogue import ItemCatalogue
from recserve.serving.content_neighbours import ContentNeighbours
from recserve.serving.history import UserHistory
from recserve.serving.live import LiveCounter
from recserve.serving.served import ServedModel
from recserve.serving.untrained import UntrainedPopular
from recserve.store import Store


class ServingContext(Protocol):
    store: Store
    content_neighbours: ContentNeighbours  # for items newer than the champion
    untrained_popular: UntrainedPopular  # popular before the first training

    def served(self) -> dict[str, ServedModel]:
        """The champion of each scenario that has one."""
        ...

    def has_champion(self, scenario: str) -> bool: ...

    def model(self, scenario: str) -> ServedModel:
        """The scenario's champion; ``ModelNotReady`` when none is promoted."""
        ...

    def history(self, user_id: str, items: Vocabulary) -> UserHistory:
        """The user's live history in the item space ``items``."""
        ...

    def user_index(self, served: ServedModel, user_id: str) -> int:
        """The user's index in the model; -1 when unknown or forgotten."""
        ...

    def is_forgotten(self, user_id: str, served: ServedModel) -> bool: ...

    def catalogue(self, served: ServedModel) -> ItemCatalogue: ...

    def live_counts(self, served: ServedModel) -> LiveCounter: ...
