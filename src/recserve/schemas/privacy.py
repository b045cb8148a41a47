"""The shape of ``GET /v1/users/{id}/export``: everything stored about one user
(docs/privacy.md). The server streams the document; this model describes it for clients."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from recserve.schemas import FeedbackPublic, RelationPublic, UserPublic


class ExportedModels(BaseModel):
    note: str
    versions: list[dict[str, Any]] = Field(
        description="name, version, family, snapshot_at, served_for, contains_user"
    )


class UserExport(BaseModel):
    """``GET /v1/users/{id}/export``: everything stored about one user (docs/privacy.md)."""

    user: UserPublic
    relations: list[RelationPublic]
    models: ExportedModels
    exported_at: str
    events: list[FeedbackPublic] = Field(description="newest first")
    event_count: int
