"""The privacy export: everything stored about one user, as one JSON document.

The document is streamed: the user row, relations and model versions first, then the
events page by page, so a user with millions of events never sits in memory at once.
Model versions are listed when their data snapshot was taken at or after the user row was
created (they may contain the user's data); served champions also say whether their user
vocabulary really holds the user.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

from recserve.registry import ModelRegistry
from recserve.schemas import FeedbackPublic, RelationPublic, UserPublic, iso
from recserve.serving import ServingEngine
from recserve.store import Store
from recserve.store.forgotten import snapshot_time

EVENT_PAGE = 1000  # events read per query while streaming


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _served_lists(store: Store, user_id: str) -> list[dict[str, Any]]:
    return [
        {
            "recommendation_id": row["recommendation_id"],
            "experiment_id": row["experiment_id"],
            "variant": row["variant"],
            "model": row["model"],
            "items": list(row["items"]),
            "served_at": iso(row["served_at"]),
        }
        for row in store.experiments.user_lists(user_id)
    ]


def model_versions(
    registry: ModelRegistry, engine: ServingEngine, user_id: str, since: float
) -> list[dict[str, Any]]:
    """Registry versions whose data snapshot was taken at or after ``since`` (the user row's
    creation): they may have been trained with the user's data."""
    served: dict[str, list[str]] = {}
    loaded = engine.served()
    for scenario, champion in loaded.items():
        served.setdefault(champion.ref, []).append(scenario)
    by_ref = {m.ref: m for m in loaded.values()}
    out = []
    for version in registry.list_versions():
        taken_at, basis = snapshot_time(version.manifest)
        if taken_at is not None and taken_at < since:
            continue
        entry: dict[str, Any] = {
            "name": version.name,
            "version": version.version,
            "family": version.manifest.get("family"),
            "snapshot_at": iso(taken_at),
            "snapshot_field": basis,
            "served_for": sorted(served.get(version.ref, [])),
            "contains_user": None,  # known only for a loaded (served) model
        }
        loaded_model = by_ref.get(version.ref)
        if loaded_model is not None and loaded_model.model.users is not None:
            entry["contains_user"] = engine.user_index(loaded_model, user_id) >= 0
        out.append(entry)
    return out


def _event(row: dict[str, Any]) -> dict[str, Any]:
    event = FeedbackPublic.from_row(row).model_dump()
    if event["value"] is not None and not math.isfinite(event["value"]):
        event["value"] = None  # strict JSON has no NaN or infinity
    return event


def _relations(store: Store, user_id: str) -> list[dict[str, Any]]:
    return [
        RelationPublic(
            user_id=r["user_id"],
            other_user_id=r["other_user_id"],
            type=r["type"],
            created_at=iso(r["created_at"]) or "",
        ).model_dump()
        for r in store.relations.for_user(user_id)
    ]


def export_document(
    store: Store,
    registry: ModelRegistry,
    engine: ServingEngine,
    user: dict[str, Any],
) -> Iterator[str]:
    """The export of ``user`` (its stored row) as JSON text chunks.

    Keys: ``user``, ``relations`` (both directions), ``models`` (``note`` and ``versions``),
    ``experiment_lists`` (the lists served to the user under A/B experiments, logged for
    attribution), ``exported_at``, ``events`` (newest first), ``event_count``.
    """
    user_id = user["user_id"]
    since = float(user["created_at"])
    models = {
        "note": (
            f"model versions whose training data was taken at or after {iso(since)} (when "
            "this user was first stored) may contain this user's data; older ones cannot"
        ),
        "versions": model_versions(registry, engine, user_id, since),
    }
    yield "{" + f'"user": {_dump(UserPublic.from_row(user).model_dump())}'
    yield f', "relations": {_dump(_relations(store, user_id))}'
    yield f', "models": {_dump(models)}'
    yield f', "experiment_lists": {_dump(_served_lists(store, user_id))}'
    yield f', "exported_at": {_dump(iso(time.time()))}'
    yield ', "events": ['
    count, cursor = 0, None
    while True:
        rows, cursor = store.feedback.for_user(user_id, cursor, EVENT_PAGE)
        if rows:
            page = ", ".join(_dump(_event(r)) for r in rows)
            yield (", " if count else "") + page
            count += len(rows)
        if cursor is None:
            break
    yield f'], "event_count": {count}' + "}"
