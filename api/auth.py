"""Authentication by API key (header ``X-API-Key``) and scope checks.

``KeyRing`` holds the active keys by key id and re-reads the keys file when it changes
(checked at most every ``refresh_seconds``), so a revoked key stops working without a
restart. Routes declare what they need with ``Depends(require_access("risk:read"))``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from api.deps import AppState, app_state, current_snapshot, reject_unknown_query
from api.errors import ApiError
from api.keyring import API_KEY_HEADER, INSECURE_PRINCIPAL, Principal
from api.keys import SCOPES
from api.snapshot import Snapshot

log = logging.getLogger("sybil_linker.api")

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="ApiKeyAuth",
    description="An API key from `sybil-linker keys create`. Scopes: " + ", ".join(SCOPES) + ".",
    auto_error=False,
)


def authorize(state: AppState, key: str | None, scope: str | None) -> Principal:
    """The caller of ``key`` if it carries ``scope`` (None: any valid key).

    Raises ApiError 401 without a valid key, 403 without the scope.
    """
    if state.keyring is None:
        return INSECURE_PRINCIPAL
    principal = state.keyring.authenticate(key)
    if scope is not None and not principal.has(scope):
        raise ApiError(403, "forbidden", f"this API key lacks the scope {scope!r}")
    return principal


@dataclass(frozen=True)
class Access:
    """An authorised caller and the one snapshot its request is answered from."""

    caller: Principal
    snapshot: Snapshot


def require_access(scope: str) -> Callable[..., Awaitable[Access]]:
    """A dependency checking the key and ``scope`` and the query parameter names, then
    taking the snapshot to answer from. One dependency rather than several: FastAPI's
    per-dependency cost is a good share of a cached lookup. Raises ApiError 401, 403,
    422 for an unknown query parameter, or 503 when there is no run."""

    async def dependency(request: Request, key: str | None = Security(api_key_header)) -> Access:
        state = app_state(request)
        caller = authorize(state, key, scope)
        reject_unknown_query(request)
        return Access(caller, await current_snapshot(state))

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency
