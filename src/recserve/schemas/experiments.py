"""Request and response shapes of the A/B experiment endpoints: a definition with its
variants, its state, and its online metrics (CTR and conversion with intervals).

The limits and default event types live here, beside the request that uses them;
``recserve.experiments.definition`` applies the same ones to every definition.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from recserve.schemas.models import NAME

MAX_VARIANTS = 10
DEFAULT_CLICK_TYPES = ("click", "view", "like")
DEFAULT_CONVERSION_TYPES = ("purchase",)

EventType = Annotated[str, Field(min_length=1, max_length=64)]

# requests ----------------------------------------------------------------------------------


class VariantBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME, description="e.g. control, treatment")
    share: float = Field(gt=0, le=1, description="Fraction of the users; shares add up to 1")
    model: str | None = Field(
        default=None,
        max_length=200,
        description='"name/version" of a registered model, or "champion" (the default: the '
        "scenario's current champion, i.e. the control)",
    )
    scenario: str | None = Field(
        default=None,
        pattern=NAME,
        description="Instead of a model: this scenario's champion (and its fallbacks) answers",
    )


class ExperimentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment_id: str = Field(pattern=NAME)
    scenario: str = Field(default="recommended", pattern=NAME)
    variants: list[VariantBody] = Field(min_length=2, max_length=MAX_VARIANTS)
    status: Literal["draft", "running"] = "running"
    click_types: list[EventType] = Field(
        default_factory=lambda: list(DEFAULT_CLICK_TYPES),
        min_length=1,
        max_length=20,
        description="Feedback types that count as a click on a listed item",
    )
    conversion_types: list[EventType] = Field(
        default_factory=lambda: list(DEFAULT_CONVERSION_TYPES),
        min_length=1,
        max_length=20,
        description="Feedback types that count as a conversion",
    )
    description: str | None = Field(default=None, max_length=2000)


# responses ---------------------------------------------------------------------------------


class VariantInfo(BaseModel):
    name: str
    share: float
    model: str | None
    scenario: str | None
    source: str = Field(description='"champion", "name/version" or "scenario:<name>"')


class ExperimentInfo(BaseModel):
    experiment_id: str
    scenario: str
    status: str = Field(description="draft, running or stopped")
    variants: list[VariantInfo]
    click_types: list[str]
    conversion_types: list[str]
    description: str | None
    created_at: float | None
    started_at: float | None
    stopped_at: float | None


class Interval(BaseModel):
    rate: float | None = Field(description="None while nothing was served")
    low: float = Field(description="95% Wilson interval")
    high: float


class VariantMetrics(BaseModel):
    variant: str
    impressions: int = Field(description="Lists served")
    clicked_lists: int = Field(description="Lists with at least one click on a listed item")
    clicks: int = Field(description="Click events attributed to the variant's lists")
    ctr: Interval = Field(description="clicked_lists / impressions")
    converted_lists: int
    conversions: int
    conversion_rate: Interval = Field(description="converted_lists / impressions")


class Comparison(BaseModel):
    variant: str
    baseline: str = Field(description="The first variant (the control)")
    ctr_difference: float | None
    ctr_z: float | None
    ctr_p_value: float | None = Field(description="Two-proportion z-test, two-sided")
    conversion_difference: float | None
    conversion_z: float | None
    conversion_p_value: float | None


class ExperimentMetrics(BaseModel):
    confidence: float
    z: float
    variants: list[VariantMetrics]
    comparisons: list[Comparison]


class ExperimentDetail(ExperimentInfo):
    metrics: ExperimentMetrics


class ExperimentList(BaseModel):
    data: list[ExperimentInfo]
