"""Observability shared by every layer: Prometheus metrics and structured logs.

Kept outside ``api`` so training and serving code can record metrics and log with the
request id without importing the web layer.
"""

from recserve.observability.logs import (
    REQUEST_ID,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    current_request_id,
)
from recserve.observability.metrics import (
    HttpMetrics,
    observe_job_results,
    observe_training,
)

__all__ = [
    "REQUEST_ID",
    "HttpMetrics",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "current_request_id",
    "observe_job_results",
    "observe_training",
]
