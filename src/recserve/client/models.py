"""The typed results the client returns: the server's own request and response models,
re-exported from ``recserve.schemas``.

The API answers with the same models, so a field added on the server is a field in the
client, with no second copy to drift. ``recserve.schemas`` imports only pydantic, so
importing the client loads none of the server (FastAPI, SQLAlchemy, the serving engine).
"""

from __future__ import annotations

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
    SearchHit,
    SearchResponse,
    UserCreate,
    UserPublic,
    UserUpdate,
    WriteResult,
)
from recserve.schemas.batch import BatchJobStatus, BatchRequest
from recserve.schemas.experiments import (
    ExperimentCreate,
    ExperimentDetail,
    ExperimentInfo,
    ExperimentList,
    VariantBody,
)
from recserve.schemas.jobs import JobList, JobStatus
from recserve.schemas.llm import EnrichResponse, LlmInfo, LlmListResponse
from recserve.schemas.models import ModelList, ScenarioInfo, ScenarioList, VersionInfo
from recserve.schemas.privacy import ExportedModels, UserExport
from recserve.schemas.scenarios import (
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

__all__ = [
    "BatchJobStatus",
    "BatchRequest",
    "EnrichResponse",
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
    "LlmInfo",
    "LlmListResponse",
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
    "SearchHit",
    "SearchResponse",
    "UserCreate",
    "UserExport",
    "UserPublic",
    "UserUpdate",
    "VariantBody",
    "VersionInfo",
    "WriteResult",
]
