"""What a training job is asked to do, typed: the API, the CLI and the schedule build one,
the job record stores it as JSON, and the worker reads it back with ``from_dict``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from recserve.training.selection import PROMOTE_MODES, PromoteMode


@dataclass(frozen=True)
class TrainingRequest:
    """``models`` None: the default models plus the model search; ``scenarios`` None: all;
    ``budget_seconds`` None: the runner's ``train_budget_seconds``; ``families`` None:
    every family that applies to the data."""

    models: tuple[str, ...] | None = None
    scenarios: tuple[str, ...] | None = None
    promote: PromoteMode = "if_better"
    budget_seconds: float | None = None
    families: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.promote not in PROMOTE_MODES:
            raise ValueError(f"promote must be one of {PROMOTE_MODES}, got {self.promote!r}")
        if self.budget_seconds is not None and not self.budget_seconds > 0:
            raise ValueError(f"budget_seconds must be positive, got {self.budget_seconds}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> TrainingRequest:
        """From a stored or posted request; unknown keys (older records) are ignored."""
        raw = raw or {}

        def names(key: str) -> tuple[str, ...] | None:
            value = raw.get(key)
            return None if value is None else tuple(str(v) for v in value)

        budget = raw.get("budget_seconds")
        return cls(
            models=names("models"),
            scenarios=names("scenarios"),
            promote=raw.get("promote") or "if_better",
            budget_seconds=None if budget is None else float(budget),
            families=names("families"),
        )

    def with_budget(self, seconds: float) -> TrainingRequest:
        """This request with ``seconds`` as its budget unless it names one."""
        if self.budget_seconds is not None:
            return self
        return TrainingRequest(self.models, self.scenarios, self.promote, seconds, self.families)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("models", "scenarios", "families"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out
