"""Structured JSON logs with service, correlation id, event id and actor bound via contextvars."""

from __future__ import annotations

import logging
import sys

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
