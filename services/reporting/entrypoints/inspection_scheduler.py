"""The inspections' durable timer: every interval, reminders for rectification deadlines that come near and
DeadlinePassed + escalation for those that passed while pending (the runtime's loop; state lives in the store)."""

from __future__ import annotations

from typing import Any, Callable

from services.reporting.application.inspections import Inspections
from services.runtime.scheduling import run_loop, stoppable_sleep


def run(inspections: Inspections, *, logger: Any, interval_s: float, should_stop: Callable[[], bool]) -> None:
    """Ticks until stopped; a tick after a restart picks up whatever fell due meanwhile (nothing is in memory)."""

    def done(work: dict[str, int]) -> None:
        if work["reminded"] or work["escalated"]:
            logger.info("inspection_deadlines_checked", **work)

    run_loop(inspections.tick, should_stop=should_stop, logger=logger, interval_s=interval_s,
             sleep=stoppable_sleep(should_stop), done=done, failed_event="inspection_deadlines_retrying",
             timer="inspections")
