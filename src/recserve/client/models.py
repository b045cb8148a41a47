"""The typed results the client returns: the server's own response models, re-exported.

They are imported from the modules the API itself answers with, so a field added on the
server is a field in the client, with no second copy to drift. Only the privacy export,
which the server streams without a response model, is described here.

Note: ``recserve.api.scenario_schemas`` and the route modules live in the ``recserve.api``
package, whose ``__init__`` builds the app, so importing the client imports the server code
too (about 1.5 s); moving those models next to ``recserve.schemas`` would avoid it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from recserve.api.routes.experiments import (
    ExperimentCreate,
    ExperimentDetail,
    ExperimentInfo,
    ExperimentList,
    VariantBody,
)
from recserve.api.routes.jobs import JobList, JobStatus
from recserve.api.routes.models import ModelList, ScenarioInfo, ScenarioList, VersionInfo
from recserve.api.scenario_schemas import (
    Explanation,
    Group,
    GroupsResponse,
    ItemDetails,
    ListItem,
    ListResponse,
    PeopleResponse,
    RankedItem,
    RankResponse,
    Reason,
    ScoredUser,
)
from recserve.schemas import (
    ErrorBody,
    FeedbackCreate,
    FeedbackPublic,
    HealthStatus,
    ItemCreate,
    ItemPublic,
    ItemUpdate,
    Page,
    ReadyStatus,
    RelationCreate,
    RelationPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
    WriteResult,
)


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


__all__ = [
    "ErrorBody",
    "ExperimentCreate",
    "ExperimentDetail",
    "ExperimentInfo",
    "ExperimentList",
    "Explanation",
    "ExportedModels",
    "FeedbackCreate",
    "FeedbackPublic",
    "Group",
    "GroupsResponse",
    "HealthStatus",
    "ItemCreate",
    "ItemDetails",
    "ItemPublic",
    "ItemUpdate",
    "JobList",
    "JobStatus",
    "ListItem",
    "ListResponse",
    "ModelList",
    "Page",
    "PeopleResponse",
    "RankResponse",
    "RankedItem",
    "ReadyStatus",
    "Reason",
    "RelationCreate",
    "RelationPublic",
    "ScenarioInfo",
    "ScenarioList",
    "ScoredUser",
    "UserCreate",
    "UserExport",
    "UserPublic",
    "UserUpdate",
    "VariantBody",
    "VersionInfo",
    "WriteResult",
]
