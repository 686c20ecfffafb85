"""What ``logging.bind`` puts on log lines: bound values on every line of the context, gone after ``clear``, the
log call's own values first, and separate per thread/context."""

from __future__ import annotations

import contextvars
import io
import json

import structlog

from services.runtime import logging as rlog


class Logs:
    """A logger with the processors of ``configure_logging`` that matter here, writing to a buffer (the global
    structlog configuration is left alone: other tests' module loggers keep their output)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.log = structlog.wrap_logger(
            structlog.PrintLogger(file=self.buffer),
            processors=[structlog.contextvars.merge_contextvars, rlog.merge_bound,
                        structlog.processors.JSONRenderer()]).bind(service="test", process_role="unit")

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.buffer.getvalue().splitlines()]


def test_configured_logging_merges_the_bound_values() -> None:
    import inspect

    assert "merge_bound," in inspect.getsource(rlog.configure_logging)


def test_bound_values_are_on_every_line_until_cleared() -> None:
    logs = Logs()
    log = logs.log
    rlog.clear()
    rlog.bind(correlation_id="c-1", event_id="e-1")
    rlog.bind(actor_id="a-1")
    log.info("one")
    log.info("two", event_id="e-own")
    rlog.clear()
    log.info("three")
    one, two, three = logs.lines()
    assert (one["correlation_id"], one["event_id"], one["actor_id"]) == ("c-1", "e-1", "a-1")
    assert two["event_id"] == "e-own" and two["correlation_id"] == "c-1"
    assert "correlation_id" not in three and "actor_id" not in three
    assert three["service"] == "test" and three["process_role"] == "unit"


def test_a_context_does_not_see_another_contexts_values() -> None:
    logs = Logs()
    log = logs.log
    rlog.clear()
    rlog.bind(correlation_id="outer")

    def inner() -> None:
        rlog.bind(correlation_id="inner")
        log.info("inside")

    contextvars.copy_context().run(inner)
    log.info("outside")
    inside, outside = logs.lines()
    assert inside["correlation_id"] == "inner" and outside["correlation_id"] == "outer"
    rlog.clear()
