"""The day-close scheduler process: every ``BAOXUE_SCHEDULER_INTERVAL_S`` one tick of ``DayCloseCases`` (each county's
due days closed after its cut-off), logged per county; closing is idempotent, so a restart or a second scheduler does
no harm."""

from __future__ import annotations

from typing import Any, Callable

from services.attendance.application.day_close import CountyRun, DayCloseCases
from services.runtime.scheduling import run_loop


def run_scheduler(
    day_close: DayCloseCases,
    logger: Any,
    should_stop: Callable[[], bool],
    sleep: Callable[[float], Any],
    *,
    interval_s: float,
    default_cutoff: str,
    claim: Any = None, metrics: Any = None,
) -> None:
    """Polls until stopped (``scheduler_started`` … ``scheduler_stopped``); each county that closed rolls is logged."""

    def done(runs: list[CountyRun]) -> None:
        for run in runs:
            if run.schools:
                logger.info("school_days_closed", county=run.county_code, cutoff=run.cutoff, schools=run.schools,
                            days=[d.isoformat() for d in run.days])

    def tick() -> list[CountyRun]:
        runs = day_close.run_once(logger)
        if metrics is not None:  # after every tick: what is still past its cut-off (0 when all went well)
            metrics.day_closes_overdue.labels(metrics.service).set(day_close.overdue())
        return runs

    run_loop(tick, should_stop=should_stop, logger=logger, interval_s=interval_s,
             sleep=sleep, done=done, claim=claim, metrics=metrics, default_cutoff=default_cutoff)
