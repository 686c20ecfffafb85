"""What ``logging.bind`` puts on log lines: bound values on every line of the context, gone after ``clear``, the
log call's own values first, and separate per thread/context."""

from __future__ import annotations

import contextvars
import json

from services.runtime import logging as rlog


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_bound_values_are_on_every_line_until_cleared(capsys) -> None:
    log = rlog.configure_logging("test", "unit")
    rlog.clear()
    rlog.bind(correlation_id="c-1", event_id="e-1")
    rlog.bind(actor_id="a-1")
    log.info("one")
    log.info("two", event_id="e-own")
    rlog.clear()
    log.info("three")
    one, two, three = lines(capsys)
    assert (one["correlation_id"], one["event_id"], one["actor_id"]) == ("c-1", "e-1", "a-1")
    assert two["event_id"] == "e-own" and two["correlation_id"] == "c-1"
    assert "correlation_id" not in three and "actor_id" not in three
    assert three["service"] == "test" and three["process_role"] == "unit"


def test_a_context_does_not_see_another_contexts_values(capsys) -> None:
    log = rlog.configure_logging("test", "unit")
    rlog.clear()
    rlog.bind(correlation_id="outer")

    def inner() -> None:
        rlog.bind(correlation_id="inner")
        log.info("inside")

    contextvars.copy_context().run(inner)
    log.info("outside")
    inside, outside = lines(capsys)
    assert inside["correlation_id"] == "inner" and outside["correlation_id"] == "outer"
    rlog.clear()
