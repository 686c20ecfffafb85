"""The web pages (Simplified Chinese) and their static assets; the chart library comes from npm (web/node_modules).

Pages are static HTML with their scripts in files (no inline script or handler), served with a strict
Content-Security-Policy, so a name that carries HTML can at worst be shown as text, never run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB = Path(__file__).parents[2] / "web"  # services/reporting/web: where `make web-assets` runs npm
STATIC = WEB / "static"
VENDOR = {"echarts.min.js": WEB / "node_modules" / "echarts" / "dist" / "echarts.min.js"}
PAGES = ("login", "dashboard", "ledger", "case", "reports", "inspections")

# Scripts only from this site, no inline script, eval or plugins; no framing, no <base> rewriting; Trusted Types:
# the browser refuses any HTML string written into the page (app.js's default policy lets only "" through).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; "
       "require-trusted-types-for 'script'; trusted-types default")
EVERY_RESPONSE = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
PAGE_RESPONSE = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
                 (b"cache-control", b"no-cache")]


class SecurityHeaders:
    """Adds nosniff and Referrer-Policy to every response, and the CSP to the pages and their assets."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        extra = EVERY_RESPONSE + (PAGE_RESPONSE if path == "/" or path.startswith("/ui/") else [])

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *((k, v) for k, v in extra if k not in names)]
            await send(message)

        await self.app(scope, receive, sending)


def mount(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)

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
