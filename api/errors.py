"""The API's exceptions and the handlers that render every error in one JSON shape.

Every error response, whatever raised it (a handler, validation, routing, a crash), is
``{"error": {"code": "...", "message": "...", "field": null}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import MAX_BODY_BYTES
from linker.errors import LinkerError

log = logging.getLogger("sybil_linker.api")

#: the ``code`` of an error response, by HTTP status, when the raiser gives none
CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    503: "not_ready",
}


class ApiConfigError(LinkerError):
    """The API cannot start or a key cannot be managed: missing keys, a malformed keys
    file, an unknown scope or key id. The message says what to do."""


class ApiError(LinkerError):
    """An error answered to the client with ``status`` and the documented error body."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def not_found(kind: str, ident: str) -> ApiError:
    """A 404 for an unknown account or cluster of the current run."""
    return ApiError(404, "not_found", f"no {kind} {ident!r} in the current run")


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {"error": {"code": code, "message": message, "field": field}}


def _response(
    status: int, code: str, message: str, field: str | None = None, headers: Any = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, field), status_code=status, headers=headers)


def _field_of(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def too_large_response(max_bytes: int) -> JSONResponse:
    """The 413 answer to a request body over ``max_bytes``."""
    message = f"request body too large: at most {max_bytes:,} bytes"
    return _response(413, "too_large", message, "body")


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _response(exc.status, exc.code, exc.message, exc.field)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    parts = [f"{_field_of(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors]
    field = _field_of(errors[0].get("loc", ())) if errors else None
    return _response(422, "validation_error", "; ".join(parts) or "invalid request", field)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODE_BY_STATUS.get(exc.status_code, "http_error")
    message = str(exc.detail)
    if exc.status_code == 400:  # FastAPI's "error parsing the body": malformed input too
        return _response(422, "validation_error", f"unreadable body: {message}", "body")
    if exc.status_code == 413:  # the body streamed past the limit
        return too_large_response(MAX_BODY_BYTES)
    if exc.status_code == 404 and "route" not in request.scope:
        message = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    return _response(exc.status_code, code, message, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _response(500, "internal_error", "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Replace FastAPI's default error bodies with the documented shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
