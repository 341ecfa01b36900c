"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from api.auth import api_key_header, authorize
from api.deps import app_state
from api.errors import ApiError
from api.responses import error_responses
from api.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> dict[str, str]:
    """Always ok while the process answers."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Ready,
    summary="The store is reachable and holds a completed run",
    responses=error_responses(503),
)
async def readyz(request: Request) -> dict[str, Any]:
    """Ready with the run served; 503 when the last store check failed (the message
    says since when, and which run the API still serves) or found no run."""
    cache = app_state(request).cache
    snapshot = await run_in_threadpool(cache.refresh)
    unavailable = cache.unavailable()
    if unavailable is not None:
        raise ApiError(503, "not_ready", unavailable)
    if snapshot is None:
        raise ApiError(503, "not_ready", "the store holds no completed run yet")
    return {
        "status": "ready",
        "run_id": snapshot.run_id,
        "accounts": snapshot.n_accounts,
        "clusters": len(snapshot.clusters),
        "loaded_at": snapshot.loaded_at,
    }


async def _metrics_access(request: Request, key: str | None = Security(api_key_header)) -> None:
    state = app_state(request)
    if not state.settings.metrics_public:
        authorize(state, key, None)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, _access: Annotated[None, Depends(_metrics_access)]) -> Response:
    """Prometheus text format; any valid key unless metrics are public."""
    body = generate_latest(app_state(request).metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
