"""OpenAPI descriptions of the error responses a route can give."""

from __future__ import annotations

from typing import Any

from api.schemas import MAX_BODY_BYTES, ErrorResponse

ERROR_DESCRIPTIONS = {
    401: "No API key, or an invalid or revoked one (`unauthorized`).",
    403: "The key lacks the scope the route needs (`forbidden`).",
    404: "No such account or cluster in the current run (`not_found`).",
    409: "The cursor is from an earlier run (`stale_cursor`); start from the first page.",
    413: f"The request body is over {MAX_BODY_BYTES:,} bytes (`too_large`).",
    422: "Malformed input; `field` names it (`validation_error`).",
    503: "The store holds no completed run, or cannot be reached (`not_ready`).",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry of a route for these error statuses."""
    return {
        status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }
