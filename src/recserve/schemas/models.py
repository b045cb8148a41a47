"""Request and response shapes of the model endpoints: versions, champions per scenario,
training and promotion requests."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NAME = r"^[A-Za-z0-9_.-]{1,64}$"  # a model, scenario or experiment name

ScenarioName = Annotated[str, Field(pattern=NAME)]

# requests ----------------------------------------------------------------------------------


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[ScenarioName] | None = Field(
        default=None,
        max_length=50,
        description="Default model names or families to train; all default models if unset.",
    )
    scenarios: list[ScenarioName] | None = Field(
        default=None, max_length=50, description="Only the models for these scenarios."
    )
    promote: Literal["if_better", "always", "never"] = Field(
        default="if_better",
        description="if_better: only when it beats the champion on the same holdout split.",
    )
    budget_seconds: float | None = Field(
        default=None,
        gt=0,
        le=7 * 24 * 3600,
        description="Time for the model search and holdout check; unset: train_budget_seconds.",
    )
    families: list[ScenarioName] | None = Field(
        default=None,
        max_length=50,
        description="The families the model search tries; unset: every one that applies.",
    )


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: ScenarioName


# responses ---------------------------------------------------------------------------------


class VersionInfo(BaseModel):
    name: str
    version: str
    ref: str = Field(description="name/version")
    family: str | None
    created_at: float | None
    metrics: dict[str, Any] = Field(description="holdout metrics (ndcg@10 ...) when evaluated")
    champion_of: list[str] = Field(description="scenarios this version serves")
    manifest: dict[str, Any] = Field(description="the full manifest: config, data, split ...")


class ModelList(BaseModel):
    versions: list[VersionInfo]
    champions: dict[str, str] = Field(description="scenario -> name/version")


class ScenarioInfo(BaseModel):
    scenario: str
    champion: str | None = Field(description="name/version promoted in the registry")
    serving: str | None = Field(description="name/version this replica serves now")
    history: list[str] = Field(description="earlier champions, oldest first (rollback targets)")


class ScenarioList(BaseModel):
    data: list[ScenarioInfo]
