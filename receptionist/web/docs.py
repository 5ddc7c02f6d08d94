"""`/docs`: the API's Swagger UI, served from the files shipped with the product.

FastAPI's own `/docs` loads Swagger UI from a CDN, so it is blank on a server (or a browser) without
internet access. The same page is built here with FastAPI's `get_swagger_ui_html`, pointed at the
Swagger UI 5 files (it reads the OpenAPI 3.1 FastAPI writes; Swagger UI 4 does not) that the PyPI
package `fastapi-offline` ships as package data (MIT; Swagger UI's own Apache-2.0 licence applies to
its files, as that package's README says), mounted under `/docs/static`. Only the files are used,
not that package's app factory. ReDoc, CDN-only too in FastAPI, is not served.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles

STATIC = "/docs/static"
FILES = Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at `/docs` for `app.openapi_url` (make the app with `docs_url=None, redoc_url=None`)."""
    app.mount(STATIC, StaticFiles(directory=FILES), name="swagger-ui")
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title}: API", oauth2_redirect_url=oauth2_redirect,
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js", swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon.png")

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect():
        return get_swagger_ui_oauth2_redirect_html()
