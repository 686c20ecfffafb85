"""Structured JSON logs with service, correlation id, event id and actor bound via contextvars."""

from __future__ import annotations

import logging
import re
import sys

import psycopg
import structlog


def configure_logging(service: str, role: str, level: str = "INFO") -> structlog.stdlib.BoundLogger:
    """Configures structlog for one process and returns its root logger."""
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
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


def bind(**values: object) -> None:
    """Binds values (correlation_id, event_id, actor_id) to every log line in this context."""
    structlog.contextvars.bind_contextvars(**values)


def clear() -> None:
    """Clears the bound context (end of a request or message)."""
    structlog.contextvars.clear_contextvars()


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
