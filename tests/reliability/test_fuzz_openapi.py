"""Fuzz every operation of the OpenAPI document with schemathesis, in-process (ASGI).

One app serves models trained on the synthetic taste blocks and needs an admin API key.
Each operation gets a bounded number of generated requests, valid ones (positive mode)
and invalid ones (negative mode); schemathesis' checks must pass on every answer: no 5xx
that the operation does not document, a documented status code, a body that matches the
response schema, invalid input rejected with a 4xx.

(schemathesis' own pytest integration, ``from_fixture``, does not run under pytest 9, so
the operations are parametrized here and each runs its own Hypothesis test.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from recserve.api import create_app
from recserve.config import Settings
from tests.api.conftest import synthetic_events, train

KEY = "fuzz-admin-key-0123"
# per operation and mode: the whole module stays well under a minute; set
# RECSERVE_FUZZ_EXAMPLES for a deeper run by hand
EXAMPLES = int(os.environ.get("RECSERVE_FUZZ_EXAMPLES", "10"))


def _settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        model_poll_seconds=0,
        api_keys=[{"key": KEY, "scopes": ["admin"]}],  # type: ignore[list-item]
        max_n=100,
        metrics_public=False,  # /metrics declares the API key: hold it to that
    )


def _cases() -> list[tuple[str, GenerationMode]]:
    """Every operation of the document, as schemathesis labels them ("GET /v1/popular"),
    with valid input, and with invalid input where it has any input to break."""
    paths = create_app(_settings(Path("unused"))).openapi()["paths"]
    cases = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            cases.append((label, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append((label, GenerationMode.NEGATIVE))
    return cases


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    app = create_app(_settings(tmp_path_factory.mktemp("fuzz")))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the lifespan
    try:
        events = [{**e, "event_id": f"e{k}"} for k, e in enumerate(synthetic_events())]
        app.state.store.feedback.add(events)
        train(app)
        # Unknown query parameters are ignored, as HTTP APIs usually do: not generated.
        schema.config.generation.update(allow_extra_parameters=False)
        yield schema
    finally:
        asgi.shutdown_lifespans()  # stops the job runner, closes the store


@pytest.mark.parametrize(("label", "mode"), _cases(), ids=lambda v: str(v))
def test_operation_answers_within_its_schema(
    api_schema: Any, label: str, mode: GenerationMode
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        # Schema-valid input may still be refused with a 4xx: rules the JSON schema does not
        # express (no control characters in ids, non-empty batches, n up to the max_n
        # setting, opaque cursors, known scenario names). Every other check runs.
        case.call_and_validate(
            headers={"X-API-Key": KEY}, excluded_checks=[positive_data_acceptance]
        )

    check()
