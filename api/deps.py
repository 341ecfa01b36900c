"""Shared state of one app and the dependencies that hand it to route handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.cache import RunCache
from api.errors import ApiError
from api.label_sink import LabelSink
from api.metrics import ApiMetrics
from api.settings import ApiSettings
from api.snapshot import Snapshot
from graph_store.base import GraphStore

if TYPE_CHECKING:
    from api.keyring import KeyRing


@dataclass(frozen=True)
class AppState:
    """Everything the handlers of one app share; ``keyring`` is None without auth."""

    settings: ApiSettings
    cache: RunCache
    keyring: KeyRing | None
    labels: LabelSink
    metrics: ApiMetrics
    #: the store the app opened itself (closed at shutdown); None when the caller's
    owned_store: GraphStore | None = None
    #: query parameter names each route declares, by route id, filled on first use
    declared_query: dict[str, frozenset[str]] = field(default_factory=dict)


def app_state(request: Request) -> AppState:
    """The state ``create_app`` attached to the app."""
    state: AppState = request.app.state.sybil
    return state


async def current_snapshot(state: AppState) -> Snapshot:
    """The snapshot to answer a request from (read once per request); loads the first
    run off the event loop. Raises ApiError 503 while the store holds no completed run."""
    cache = state.cache
    snapshot = cache.current()
    if snapshot is None:
        snapshot = await run_in_threadpool(cache.refresh)
    if snapshot is None:
        reason = cache.unavailable() or "the store holds no completed run yet"
        raise ApiError(503, "not_ready", f"no run to serve: {reason}")
    return snapshot


def label_sink(request: Request) -> LabelSink:
    """Where analyst labels are written."""
    return app_state(request).labels


def _declared_query(route: Any) -> frozenset[str]:
    names: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(param.alias for param in dependant.query_params)
        pending.extend(dependant.dependencies)
    return frozenset(names)


def reject_unknown_query(request: Request) -> None:
    """Raise ApiError 422 for a query parameter the route does not declare, so that a
    misspelt filter (``min_risc=0.9``) fails loudly instead of being ignored."""
    route = request.scope.get("route")
    if not request.scope.get("query_string") or route is None:
        return
    cache = app_state(request).declared_query
    declared = cache.get(route.unique_id)
    if declared is None:
        declared = cache[route.unique_id] = _declared_query(route)
    unknown = [name for name in request.query_params if name not in declared]
    if unknown:
        takes = ", ".join(sorted(declared)) or "none"
        raise ApiError(
            422,
            "validation_error",
            f"unknown query parameter {unknown[0]!r} (this route takes: {takes})",
            f"query.{unknown[0]}",
        )
