"""The web pages (Simplified Chinese) and their static assets; the chart library comes from npm (web/node_modules).

Pages are static HTML with their scripts in files (no inline script or handler), served with a strict
Content-Security-Policy, so a name that carries HTML can at worst be shown as text, never run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

from services.runtime.pages import STRICT_CSP, SecurityHeaders

WEB = Path(__file__).parents[2] / "web"  # services/reporting/web: where `make web-assets` runs npm
STATIC = WEB / "static"
VENDOR = {"echarts.min.js": WEB / "node_modules" / "echarts" / "dist" / "echarts.min.js"}
PAGES = ("login", "dashboard", "ledger", "case", "reports", "scorecards", "inspections")

# The runtime's strict policy: scripts from this site only, Trusted Types (app.js's default policy lets only "" through).
CSP = STRICT_CSP


def mount(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders, csp=CSP)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/dashboard")

    @app.get("/ui/{page}", include_in_schema=False)
    def page(page: str) -> FileResponse:
        if page not in PAGES:
            raise HTTPException(404, detail={"code": "not_found", "message": "页面不存在"})
        return FileResponse(STATIC / f"{page}.html", media_type="text/html; charset=utf-8")

    @app.get("/ui/static/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        path = VENDOR.get(name) or STATIC / name
        if "/" in name or not path.is_file():
            raise HTTPException(404, detail={"code": "not_found", "message": "文件不存在（图表库请先运行 make web-assets）"})
        return FileResponse(path)
