"""The field workers' phone page (/ui/field, Simplified Chinese): static files under a strict CSP, plus its
service worker, served from /ui/ so it may keep the page working offline.

Scripts are files (no inline script or handler) and write values only as DOM text; Trusted Types refuse any
HTML string, and the only script URL the page's policy lets through is the service worker's own.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

from services.runtime.pages import STRICT_CSP, SecurityHeaders

STATIC = Path(__file__).parent / "static"
ASSETS = {"field.js": "text/javascript", "outbox.js": "text/javascript", "field.css": "text/css",
          "field.webmanifest": "application/manifest+json", "icon.svg": "image/svg+xml"}
WORKER = "field-sw.js"
CSP = STRICT_CSP + "; worker-src 'self'; manifest-src 'self'"


def mount(app: FastAPI) -> None:
    """Adds the page, its assets and its service worker to the casework app."""
    app.add_middleware(SecurityHeaders, csp=CSP)

    @app.get("/ui", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/field")

    @app.get("/ui/field", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "field.html", media_type="text/html; charset=utf-8")

    @app.get("/ui/field-sw.js", include_in_schema=False)
    def worker() -> FileResponse:
        return FileResponse(STATIC / WORKER, media_type="text/javascript", headers={"cache-control": "no-cache"})

    @app.get("/ui/static/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(404, detail={"code": "not_found", "message": "文件不存在"})
        return FileResponse(STATIC / name, media_type=ASSETS[name])
