"""The API's documentation pages, served offline: Swagger UI at ``/docs`` and ReDoc at
``/redoc``, with their scripts, style sheet and icon served by the API itself from the
``fastapi-offline`` package (FastAPI's defaults load them from a CDN, and ReDoc's also
from Google Fonts). The pages read ``/openapi.json`` and nothing from outside.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

#: where the pages' assets are served
ASSETS_URL = "/docs-assets"
#: the package whose ``static/`` folder holds them
ASSETS_PACKAGE = "fastapi_offline"
#: the pages load from the API only (Swagger UI starts from an inline script, ReDoc
#: searches in a worker made from a blob)
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    )
)


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their assets to ``app`` (made with
    ``docs_url=None, redoc_url=None``); none of them needs a key."""
    static = resources.files(ASSETS_PACKAGE) / "static"
    app.mount(ASSETS_URL, StaticFiles(directory=str(static)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )
        return _offline(page)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return _offline(page)
