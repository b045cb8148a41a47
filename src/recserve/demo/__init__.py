"""The demo data set the product ships: a seeded synthetic media shop, no downloads.

``generate`` builds it in memory; ``load_demo`` writes it into a store through the same
validation as every import. See ``generator`` for how the data come about.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recserve.config import FeedbackType
from recserve.demo.generator import DEFAULT_END, DemoData, generate
from recserve.importers import ImportReport, import_rows
from recserve.store import Store


def load_demo(
    store: Store,
    *,
    feedback_types: Mapping[str, FeedbackType] | None = None,
    progress: bool = False,
    batch_size: int = 10_000,
    **kwargs: Any,
) -> ImportReport:
    """Generate the demo data (``kwargs`` go to ``generate``) and import it into ``store``.

    Events carry stable ``event_id``s, so loading the same demo twice adds nothing.
    """
    data = generate(**kwargs)
    return import_rows(
        store,
        items=data.items,
        users=data.users,
        events=data.events,
        relations=data.relations,
        feedback_types=feedback_types,
        progress=progress,
        batch_size=batch_size,
        source="demo",
    )


__all__ = ["DEFAULT_END", "DemoData", "generate", "load_demo"]
