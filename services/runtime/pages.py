"""Security headers for a service's own web pages: a strict CSP on the page paths, nosniff everywhere.

Generic on purpose: a service that serves pages (reporting's dashboards, casework's field page) names its page
prefix and its policy; the middleware only adds headers a handler did not set itself.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts only from this site, no inline script, eval or plugins; no framing, no <base> rewriting; Trusted Types:
# the browser refuses any HTML string or script URL written into the page unless the page's default policy allows it.
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
              "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
              "form-action 'self'; require-trusted-types-for 'script'; trusted-types default")
EVERY_RESPONSE = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))


class SecurityHeaders:
    """Adds nosniff and Referrer-Policy to every response, and the CSP (no framing, no cache) under the page paths."""

    def __init__(self, app: ASGIApp, *, csp: str = STRICT_CSP, prefixes: tuple[str, ...] = ("/ui/",),
                 exact: tuple[str, ...] = ("/",)) -> None:
        self.app, self.prefixes, self.exact = app, prefixes, exact
        self.page = ((b"content-security-policy", csp.encode()), (b"x-frame-options", b"DENY"),
                     (b"cache-control", b"no-cache"))

    def is_page(self, path: str) -> bool:
        return path in self.exact or path.startswith(self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = EVERY_RESPONSE + (self.page if self.is_page(scope.get("path", "")) else ())

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *((k, v) for k, v in extra if k not in names)]
            await send(message)

        await self.app(scope, receive, sending)
