"""Anonymous sessions: the items of a session's events, read from the store by session id."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from recserve.config import FeedbackKind, FeedbackType
from recserve.store import Store

MAX_SESSION_EVENTS = 1_000


def session_items(
    store: Store, session_id: str, feedback_types: Mapping[str, FeedbackType]
) -> tuple[list[str], set[str]]:
    """(items of the session's non-negative events oldest first, items with negative ones).

    Views count here: in an anonymous session they are most of the signal.
    """
    t = store.feedback.table
    stmt = (
        sa.select(t.c.item_id, t.c.type)
        .where(t.c.session_id == session_id)
        .order_by(t.c.timestamp.desc(), t.c.id.desc())
        .limit(MAX_SESSION_EVENTS)
    )
    with store.feedback.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    items, negative = [], set()
    for item_id, kind in reversed(rows):
        feedback = feedback_types.get(kind)
        if feedback is not None and feedback.kind == FeedbackKind.NEGATIVE:
            negative.add(item_id)
        else:
            items.append(item_id)
    return items, negative
