"""The OpenAPI document: security scheme, error shapes on every route, examples."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI


@pytest.fixture
def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document the app serves."""
    return app.openapi()


def test_security_scheme_is_an_api_key_header(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes == {
        "ApiKeyAuth": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": schemes["ApiKeyAuth"]["description"],
        }
    }


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
    ]


def test_every_v1_operation_is_secured_and_documents_its_errors(document: dict[str, Any]) -> None:
    v1 = [(p, m, op) for p, m, op in _operations(document) if p.startswith("/v1/")]
    assert len(v1) == 5
    for path, method, op in v1:
        assert op["security"] == [{"ApiKeyAuth": []}], (path, method)
        for status in ("401", "403", "422", "503"):
            ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ErrorResponse", (path, method, status)


def test_health_is_open(document: dict[str, Any]) -> None:
    for path in ("/healthz", "/readyz"):
        assert "security" not in document["paths"][path]["get"]


def test_models_carry_examples(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("AccountRisk", "BatchRiskRequest", "ClusterSummary", "LabelIn", "ErrorResponse"):
        assert schemas[name]["examples"], name
