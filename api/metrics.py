"""Prometheus metrics: request count and latency per route, and the run being served.

Each app has its own registry, so several apps (tests, workers) never collide.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.snapshot import Snapshot

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ApiMetrics:
    """The API's collectors on a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "sybil_api_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sybil_api_request_duration_seconds",
            "Time to answer a request, by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.run_accounts = Gauge(
            "sybil_api_run_accounts", "Accounts in the run being served.", registry=self.registry
        )
        self.run_loaded = Gauge(
            "sybil_api_run_loaded_timestamp_seconds",
            "Unix time when the run being served was loaded.",
            registry=self.registry,
        )
        # labelled children, cached: .labels() costs a lock and a dict build per call
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.labels_written = Counter(
            "sybil_api_labels_written", "Analyst labels appended.", registry=self.registry
        )

    def on_swap(self, snapshot: Snapshot) -> None:
        """Record a newly served run."""
        self.run_accounts.set(snapshot.n_accounts)
        self.run_loaded.set(time.time())

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request by its route template (so ids in
    paths never become label values); unmatched paths share one label."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(template, scope["method"], status, time.perf_counter() - started)
