"""The answers of refusals that name more than one rule: every bad row of a batch or calendar file, and 429s."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from services.attendance.adapters.ratelimit import RateLimited
from services.attendance.domain.errors import BatchRejected, CalendarFileRejected


def batch_rejected_handler(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming every bad row, so the sender can fix them all at once."""
    assert isinstance(exc, BatchRejected)
    body = {"code": exc.code, "message": str(exc), "rule": exc.rule, "errors": [asdict(e) for e in exc.errors]}
    return JSONResponse({"detail": body}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def calendar_rejected_handler(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming every bad row of a calendar file (CSV line or JSON path)."""
    assert isinstance(exc, CalendarFileRejected)
    body = {"code": exc.code, "message": str(exc), "rule": exc.rule, "errors": [asdict(e) for e in exc.errors]}
    return JSONResponse({"detail": body}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def rate_limited_handler(_request: Request, exc: Exception) -> JSONResponse:
    """429 with Retry-After, so a well-behaved client backs off exactly as long as needed."""
    assert isinstance(exc, RateLimited)
    retry = max(1, int(exc.retry_after + 0.999))
    body = {"code": exc.code, "message": str(exc), "rule": exc.rule, "retry_after_s": round(exc.retry_after, 3)}
    return JSONResponse({"detail": body}, status_code=429, headers={"Retry-After": str(retry)})


def add_error_handlers(app: FastAPI) -> None:
    """Batches and calendar files name every bad row; other domain errors are answered by the runtime by status."""
    app.add_exception_handler(BatchRejected, batch_rejected_handler)
    app.add_exception_handler(CalendarFileRejected, calendar_rejected_handler)
    app.add_exception_handler(RateLimited, rate_limited_handler)
