"""People you may know: friends of friends from the live relation graph, blended with the
taste similarity of the scenario's champion (``similar_users``)."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from recserve.store import Store

MAX_FRIENDS = 5_000  # friends whose own friends are read for one request


def friends(store: Store, user_id: str) -> set[str]:
    """Users related to ``user_id`` in either direction (friend, follow), read now."""
    return {
        r["other_user_id"] if r["user_id"] == user_id else r["user_id"]
        for r in store.relations.for_user(user_id)
    }


def friends_of_friends(store: Store, user_id: str, direct: set[str]) -> Counter[str]:
    """Per candidate, how many of the user's friends are related to them (either direction);
    the user and their friends are left out."""
    counts: Counter[str] = Counter()
    if not direct:
        return counts
    t = store.relations.table
    chosen = sorted(direct)[:MAX_FRIENDS]
    stmt = sa.select(t.c.user_id, t.c.other_user_id).where(
        sa.or_(t.c.user_id.in_(chosen), t.c.other_user_id.in_(chosen))
    )
    with store.relations.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    edges: set[tuple[str, str]] = set()
    for a, b in rows:
        for friend, other in ((a, b), (b, a)):
            if friend in direct and (friend, other) not in edges:
                edges.add((friend, other))
                if other != user_id and other not in direct:
                    counts[other] += 1
    return counts


def blend(
    graph: Counter[str], taste: dict[str, float], graph_weight: float = 0.5
) -> list[tuple[str, float]]:
    """Scores: ``graph_weight`` x mutual friends / max + the rest x taste / max, best first;
    ties broken by id for a stable order."""
    top_graph = max(graph.values(), default=0) or 1
    top_taste = max(taste.values(), default=0.0) or 1.0
    scores = {u: graph_weight * c / top_graph for u, c in graph.items()}
    for u, s in taste.items():
        scores[u] = scores.get(u, 0.0) + (1.0 - graph_weight) * max(s, 0.0) / top_taste
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
