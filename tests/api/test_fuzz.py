"""Schemathesis fuzzing of every operation of the app's own OpenAPI document: no 500s,
and every response (status, headers, body) conforms to the document."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

schemathesis = pytest.importorskip("schemathesis")  # a dev dependency (pyproject: dev extra)
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import Case, GenerationMode  # noqa: E402

#: every documented operation, and whether it takes input (negative fuzzing needs some)
OPERATIONS = [
    ("GET", "/v1/accounts/{account_id}/risk", True),
    ("POST", "/v1/accounts/risk", True),
    ("GET", "/v1/clusters", True),
    ("GET", "/v1/clusters/{cluster_id}", True),
    ("POST", "/v1/labels", True),
    ("GET", "/healthz", False),
    ("GET", "/readyz", False),
]
FUZZ_CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path, has_input in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if has_input or mode is GenerationMode.POSITIVE
]


def test_fuzzed_operations_are_every_operation(app: FastAPI) -> None:
    document: dict[str, Any] = app.openapi()
    documented = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert documented == {(m, p) for m, p, _ in OPERATIONS}


# schemathesis.pytest.from_fixture breaks on pytest 9 (no Function._nodeid) and on
# parametrized fixtures, so the schema is loaded inside the test and hypothesis runs
# the operation's strategy directly: the same checks, one test per operation and mode.
@pytest.mark.parametrize(("method", "path", "mode"), FUZZ_CASES)
def test_fuzz(
    app: FastAPI, keys: dict[str, str], method: str, path: str, mode: GenerationMode
) -> None:
    """No 500s; every response (status, headers, body) conforms to the document."""
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]
    headers = {"X-API-Key": keys["admin"]}
    # a cursor is opaque: a random schema-valid string is rightly refused (422), which
    # positive_data_acceptance would call a bug; cursors are tested in test_routes.py
    takes_cursor = any(p.name == "cursor" for p in operation.query)
    excluded = [schemathesis.checks.positive_data_acceptance] if takes_cursor else []

    @given(case=operation.as_strategy(generation_mode=mode))
    # derandomized: the same cases on every run, so CI is repeatable; a failure names
    # the case to reproduce
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    check()
