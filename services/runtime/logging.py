"""Structured JSON logs with service, correlation id, event id and actor bound via contextvars."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from typing import Any

import psycopg
import structlog


def configure_logging(service: str, role: str, level: str = "INFO") -> structlog.stdlib.BoundLogger:
    """Configures structlog for one process and returns its root logger."""
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            merge_bound,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.UnicodeDecoder(),
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    return structlog.get_logger().bind(service=service, process_role=role)


# What ``bind`` put on every log line of this context: one context variable holding a dict, so that binding and
# clearing per consumed message costs a dict and a ``set`` (structlog's clear_contextvars walks the whole context:
# 11% of the attendance consumer's CPU in onboarding).
_BOUND: ContextVar[dict[str, object] | None] = ContextVar("baoxue_log_bound", default=None)


def merge_bound(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the values ``bind`` holds, under what the log call itself passes."""
    bound = _BOUND.get()
    return {**bound, **event_dict} if bound else event_dict


def bind(**values: object) -> None:
    """Binds values (correlation_id, event_id, actor_id) to every log line in this context."""
    bound = _BOUND.get()
    _BOUND.set({**bound, **values} if bound else values)


def clear() -> None:
    """Clears the bound context (end of a request or message)."""
    if _BOUND.get() is not None:
        _BOUND.set(None)


def error_text(exc: BaseException, limit: int = 300) -> str:
    """An error as a log line may show it: a database error without the DETAIL and quoted values PostgreSQL adds
    (``Key (id_number)=(…)``, ``Failing row contains (…)`` would repeat a child's data); others as they are."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, psycopg.Error):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return f"{type(exc).__name__}: {exc}"[:limit]
    diag = seen.diag
    primary = re.sub(r'"[^"]*"', '"…"', diag.message_primary or "") if diag.message_primary else type(seen).__name__
    where = ", ".join(f"{k}={v}" for k, v in (("table", diag.table_name), ("column", diag.column_name),
                                              ("constraint", diag.constraint_name)) if v)
    outer = f"{type(exc).__name__} ← " if seen is not exc else ""
    return f"{outer}{type(seen).__name__} ({seen.sqlstate}): {primary}{f' [{where}]' if where else ''}"[:limit]
