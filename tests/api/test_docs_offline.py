"""The API's documentation pages work offline: /docs (Swagger UI) and /redoc (ReDoc)
load their scripts and styles from the API itself (the fastapi-offline package), and
render in real headless Chromium with every non-loopback request aborted. Nothing
reaches the network: the only outside URL the pages name (ReDoc's Redocly logo) is
refused by their Content-Security-Policy inside Chromium."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.docs import ASSETS_URL
from api.settings import ApiSettings
from tests.neo4j.test_browser import page, sync_playwright  # noqa: F401  (fixtures)

TITLE = "Sybil Linker cluster-risk API"


def _app(tmp_path: Path) -> Any:
    return create_app(ApiSettings(results_dir=tmp_path, insecure_no_auth=True))  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("page_url", "assets"),
    [
        ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"]),
        ("/redoc", ["redoc.standalone.js", "favicon.png"]),
    ],
)
def test_docs_pages_name_only_local_assets(
    tmp_path: Path, page_url: str, assets: list[str]
) -> None:
    with TestClient(_app(tmp_path)) as client:
        response = client.get(page_url)
        html = response.text
        assert "http://" not in html and "https://" not in html
        assert "default-src 'self'" in response.headers["content-security-policy"]
        for name in assets:
            assert f"{ASSETS_URL}/{name}" in html
            response = client.get(f"{ASSETS_URL}/{name}")
            assert response.status_code == 200 and len(response.content) > 1000


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The API (no run, no keys) served by uvicorn on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(_app(tmp_path), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_docs_render_with_the_network_blocked(page: Any, served: str) -> None:  # noqa: F811
    page.goto(f"{served}/docs")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert TITLE in page.locator(".swagger-ui .title").first.inner_text()
    page.goto(f"{served}/redoc")
    page.locator("h1", has_text=TITLE).first.wait_for()
    page.get_by_text("/v1/accounts/{account_id}/risk").first.wait_for()
    assert not page.blocked, page.blocked
    assert all(url.startswith("https://cdn.redoc.ly/") for url in page.refused), page.refused
