"""The HTTP shell every service API shares: correlation ids, access logs, metrics, health, errors."""

from __future__ import annotations

import email.message
import json
import re
import time
import traceback
import uuid
from pathlib import Path
from typing import Annotated, Any, Callable
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from services.runtime import logging as rlog
from services.runtime import tracing
from services.runtime.access import RoleMatrix
from services.runtime.auth import CurrentActor
from services.runtime.errors import DomainError, body_of
from services.runtime.jsoninput import parse_json
from services.runtime.metrics import Metrics, check_passes
from services.runtime.validation import BadInput, text_problem

ReadinessCheck = Callable[[], bool]


def correlation_id(request: Request) -> str:
    """The request's correlation id (from X-Correlation-ID, or minted by the middleware)."""
    return getattr(request.state, "correlation_id", None) or str(uuid.uuid4())


def command_meta(request: Request, actor: CurrentActor) -> dict[str, Any]:
    """FastAPI dependency: the metadata (actor, jurisdiction, correlation id, time) for events a command causes."""
    return actor.meta(correlation_id(request), request.app.state.clock.now())


CommandMeta = Annotated[dict[str, Any], Depends(command_meta)]


def create_base_app(
    *,
    service: str,
    title: str,
    description: str,
    metrics: Metrics,
    logger: Any,
    token_codec: Any,  # auth.TokenCodec or oidc.TokenVerifier: anything with verify(token) -> Actor
    clock: Any,
    readiness: dict[str, ReadinessCheck],
    error_statuses: dict[type[Exception], int] | None = None,
    role_matrix: RoleMatrix | None = None,
) -> FastAPI:
    """A FastAPI app with the platform's middleware, /healthz, /readyz and /metrics, whose every route must have a
    row in ``role_matrix`` (no matrix: no route but the ops routes): ``seal`` checks, and so does the first request."""
    app = _MatrixApp(title=title, description=description, version="1.0.0")
    app.state.role_matrix = role_matrix or RoleMatrix({}, service=service)
    app.state.token_codec = token_codec
    app.state.clock = clock
    app.state.metrics = metrics
    app.state.logger = logger

    async def observe(scope: dict[str, Any], receive: Any, send: Any, inner: Any) -> None:
        """Correlation id, access log and metrics of one request (plain ASGI: no extra task per request)."""
        headers = dict(scope.get("headers") or ())
        cid = headers.get(b"x-correlation-id", b"").decode("latin-1") or str(uuid.uuid4())
        state = scope.setdefault("state", {})
        state["correlation_id"] = cid
        rlog.clear()
        rlog.bind(correlation_id=cid)
        started = time.perf_counter()
        status = 500
        responded = False

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (b"x-correlation-id", cid.encode("latin-1"))]}
            await send(message)

        span_cm = tracing.http_span(scope)
        current = span_cm.__enter__()
        try:
            await inner(scope, receive, send_with_id)
        except Exception as exc:  # noqa: BLE001 - logged here without its message, so the server never prints it
            route = getattr(scope.get("route"), "path", "unmatched")
            logger.error("unhandled_error", method=scope.get("method", ""), route=route, **redacted_error(exc))
            if not responded:
                await send_with_id({"type": "http.response.start", "status": 500,
                                    "headers": [(b"content-type", b"application/json")]})
                await send_with_id({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            tracing.end_http_span(current, scope, status)
            span_cm.__exit__(None, None, None)
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope.get("method", "")
            metrics.http_requests.labels(service, method, route, str(status)).inc()
            metrics.http_latency.labels(service, method, route).observe(elapsed)
            if route not in ("/metrics", "/healthz", "/readyz"):
                actor = state.get("actor")
                logger.info(
                    "http_request",
                    method=method,
                    route=route,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                    actor_id=getattr(actor, "user_id", None),
                    actor_role=getattr(actor, "role", None),
                )
            rlog.clear()

    app.add_middleware(_StrictInput)
    app.add_middleware(_Observe, observe=observe)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"message": INVALID, "detail": jsonable_encoder(exc.errors())}, status_code=422)

    @app.exception_handler(BadInput)
    async def bad_input(_request: Request, exc: BadInput) -> JSONResponse:
        return _refusal(exc)

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": body_of(exc)}, status_code=exc.status)

    for error_type, status_code in (error_statuses or {}).items():  # a service's errors that are not DomainErrors yet
        app.add_exception_handler(error_type, _domain_error_handler(status_code))

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "alive", "service": service}

    @app.get("/readyz", tags=["ops"], summary="Readiness: the database reachable")
    def readyz() -> JSONResponse:
        """Each check's answer, also set as ``baoxue_dependency_up{role="api"}`` (the probe asks every 10 s)."""
        results = {name: check_passes(check) for name, check in readiness.items()}
        for name, up in results.items():
            metrics.dependency_up.labels(service, "api", name).set(1 if up else 0)
        ok = all(results.values())
        return JSONResponse({"ready": ok, "checks": results}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def seal(app: FastAPI) -> FastAPI:
    """The finished app, once every route has the row of the role matrix it needs (RoleMatrixMismatch otherwise)."""
    app.state.role_matrix.check(app)
    return app


class _MatrixApp(FastAPI):
    """Refuses to serve (lifespan start or first request) while a route lacks its role-matrix row."""

    def build_middleware_stack(self) -> Any:
        matrix = getattr(self.state, "role_matrix", None)
        if matrix is None:
            raise RuntimeError("app built without a role matrix")
        matrix.check(self)
        return super().build_middleware_stack()


INVALID = "请求格式或字段无效，请按 detail 所列位置更正 (invalid request)"
_ESCAPED_CONTROL = re.compile(rb"%[01][0-9a-fA-F]|%7[fF]")


def _refusal(exc: BadInput) -> JSONResponse:
    return JSONResponse({"message": INVALID, "detail": exc.detail()}, status_code=exc.status)


def _is_json(headers: dict[bytes, bytes]) -> bool:
    """FastAPI's own rule for a JSON body: application/json or application/*+json."""
    value = headers.get(b"content-type")
    if not value:
        return False
    message = email.message.Message()
    message["content-type"] = value.decode("latin-1")
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def check_target(scope: dict[str, Any]) -> None:
    """Refuses (BadInput) a path or query parameter holding a control character (``%00``...) or a lone surrogate."""
    problem = text_problem(scope.get("path", ""), multiline=False)
    if problem:
        raise BadInput(["path"], f"路径{problem}")
    query: bytes = scope.get("query_string") or b""
    if _ESCAPED_CONTROL.search(query):
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            problem = text_problem(name, multiline=False) or text_problem(value, multiline=False)
            if problem:
                raise BadInput(["query", name.encode("unicode_escape").decode("ascii")], f"查询参数{problem}")


class _StrictInput:
    """Refuses bad input before any route runs: control characters in the path or query, and JSON bodies that are
    not strict JSON (NaN, ±Infinity, lone surrogates, invalid UTF-8, control characters, nesting beyond 32)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_target(scope)
        except BadInput as exc:
            await _refusal(exc)(scope, receive, send)
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS") or not _is_json(dict(scope.get("headers") or ())):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            try:
                parse_json(body)
            except BadInput as exc:
                await _refusal(exc)(scope, receive, send)
                return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _replay(messages: list[dict[str, Any]], then: Any = None) -> Any:
    """A ``receive`` that hands out ``messages`` again, then waits on ``then`` (a disconnect) when there is one."""
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


class _Observe:
    """Runs ``observe`` around every HTTP request of the app (other ASGI traffic passes straight through)."""

    def __init__(self, app: Any, observe: Callable[..., Any]) -> None:
        self.app, self.observe = app, observe

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.observe(scope, receive, send, self.app)


_INTERNAL_ERROR = json.dumps(
    {"detail": {"code": "internal_error", "message": "服务器内部错误，请凭 X-Correlation-ID 联系运维 (internal error)"}},
    ensure_ascii=False,
).encode()


def redacted_error(exc: BaseException) -> dict[str, Any]:
    """What an unhandled error logs: exception types and code locations, never messages, which may hold input
    (a validation error's message repeats the whole request body: a child's name, ID number, phone)."""
    types: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(types) < 5:
        types.append(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    frames = traceback.extract_tb(exc.__traceback__)[-8:]
    return {"error_types": types, "frames": [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames]}


def _domain_error_handler(status_code: int) -> Callable[[Request, Exception], JSONResponse]:
    def handle(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": body_of(exc)}, status_code=status_code)  # type: ignore[arg-type]

    return handle


def broker_reachable(bootstrap: str) -> ReadinessCheck:
    """A dependency check that asks the broker for metadata (relays and consumers; APIs do not use the broker)."""

    def check() -> bool:
        from confluent_kafka.admin import AdminClient

        AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000, "log_level": 0}).list_topics(timeout=2)
        return True

    return check
