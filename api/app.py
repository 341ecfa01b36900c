"""``create_app(settings, store)``: the cluster-risk API over the latest run of a store.

Nothing is created at import time; the factory opens nothing on the network (the first
run is loaded at startup, or on the first request, off the event loop).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api.cache import RunCache
from api.deps import AppState
from api.docs import install_docs
from api.errors import ApiConfigError, install_error_handlers
from api.keyring import KeyRing
from api.label_sink import JsonlLabelSink, LabelSink
from api.limits import BodyLimit
from api.metrics import ApiMetrics, MetricsMiddleware
from api.routes import accounts, clusters, health, labels
from api.schemas import MAX_BODY_BYTES
from api.settings import ApiSettings
from graph_store.base import GraphStore
from linker import __version__

log = logging.getLogger("sybil_linker.api")

DESCRIPTION = """\
Cluster risk for trust & safety teams: the risk of an account and of the cluster it
belongs to, with plain-language reasons, from the latest linkage run.

Authenticate with an API key in the `X-API-Key` header (`sybil-linker keys create`).
Scopes: `risk:read` (accounts, clusters), `identifiers:read` (unmasked identifier
values), `labels:write` (analyst labels). Every error has the body
`{"error": {"code": ..., "message": ..., "field": ...}}`.
"""


def open_store(settings: ApiSettings) -> GraphStore:
    """The store named by the settings (:func:`graph_store.open_store`, the factory
    ``link --store`` uses): ``store_uri`` when set (``embedded``, ``file:///path`` or a
    Neo4j URI), else the embedded store in ``results_dir``.

    Raises ApiConfigError for a store URI no store answers to.
    """
    import graph_store

    try:
        return graph_store.open_store(settings.store_uri or "embedded", settings.results_dir)
    except graph_store.StoreSpecError as err:
        raise ApiConfigError(str(err)) from err


def open_keyring(settings: ApiSettings) -> KeyRing | None:
    """The keys of ``settings.keys_file``; None with ``insecure_no_auth``.

    Raises ApiConfigError when there is no keys file or no active key in it.
    """
    if settings.insecure_no_auth:
        log.warning("serving WITHOUT authentication (--insecure-no-auth): development only")
        return None
    keyring = KeyRing(settings.keys_file, settings.refresh_seconds)
    if keyring.active_count == 0:
        raise ApiConfigError(
            f"no active API key in {settings.keys_file}: create one with "
            "`sybil-linker keys create --name NAME --scope risk:read` (and pass the same "
            "--keys-file), or use --insecure-no-auth for local development only"
        )
    return keyring


def _lifespan(state: AppState) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        snapshot = await run_in_threadpool(state.cache.refresh, True)
        if snapshot is None:
            log.warning("no run to serve yet: %s", state.cache.last_error or "store is empty")
        yield
        # shutdown: let a running store check finish, then close a store the app opened
        if not await run_in_threadpool(state.cache.close):
            log.warning("a run refresh was still running at shutdown")
        if state.owned_store is not None and hasattr(state.owned_store, "close"):
            await run_in_threadpool(state.owned_store.close)

    return lifespan


def create_app(
    settings: ApiSettings,
    store: GraphStore | None = None,
    label_sink: LabelSink | None = None,
) -> FastAPI:
    """The API app serving the latest run of ``store`` (default: from ``settings``).

    Labels go to ``label_sink`` (default: ``<results_dir>/labels.jsonl``). Raises
    ApiConfigError when there are no API keys and ``insecure_no_auth`` is off.
    """
    metrics = ApiMetrics()
    owned = open_store(settings) if store is None else None
    serving = store if store is not None else owned
    assert serving is not None
    state = AppState(
        settings=settings,
        cache=RunCache(serving, settings.refresh_seconds, on_swap=metrics.on_swap),
        keyring=open_keyring(settings),
        labels=label_sink or JsonlLabelSink(settings.labels_file),
        metrics=metrics,
        owned_store=owned,
    )
    app = FastAPI(
        title="Sybil Linker cluster-risk API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan(state),
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
        openapi_tags=[
            {"name": "accounts", "description": "Risk of accounts."},
            {"name": "clusters", "description": "Clusters, their evidence and members."},
            {"name": "labels", "description": "Analyst verdicts, read by the next run."},
            {"name": "health", "description": "Liveness and readiness (no key)."},
        ],
    )
    app.state.sybil = state
    install_docs(app)
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)  # outside the metrics
    for module in (accounts, clusters, labels, health):
        app.include_router(module.router)
    return app


def create_app_from_env() -> FastAPI:
    """``create_app`` with settings from ``SYBIL_*`` variables, for
    ``uvicorn --factory api.app:create_app_from_env``."""
    return create_app(ApiSettings())  # type: ignore[call-arg]  # results_dir from env
