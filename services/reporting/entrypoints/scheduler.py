"""The month-end scheduler: seals last month's reports once the month is over, reminds and chases the units that
have not submitted them (月报告制度), publishes scorecards after the due day, and checks sealed months for
restatements once a day (the runtime's loop: logs start and stop, outlives outages)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Callable

from services.reporting.application.monthly import MonthlyReports
from services.reporting.domain.monthly import due_on
from services.runtime.scheduling import run_loop, stoppable_sleep


def last_month(today: date) -> str:
    """The month before the one ``today`` is in, as 'YYYY-MM'."""
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def run(reports: MonthlyReports, *, clock: Any, logger: Any, root: str, interval_s: float,
        should_stop: Callable[[], bool], cards: Any = None, due_day: int = 5, remind_days: int = 3,
        claim: Any = None, metrics: Any = None) -> None:
    """Every ``interval_s``: seal last month for every unit not sealed yet, remind or mark overdue the units that
    have not submitted it, and after its due day publish its scorecards; once a day, restate it."""
    restated_on: list[date | None] = [None]

    def done(work: dict[str, Any]) -> None:
        if work["sealed"]:
            logger.info("monthly_reports_sealed", month=work["month"], reports=work["sealed"])
        if work.get("reminded") or work.get("overdue"):
            logger.info("monthly_reports_chased", month=work["month"], reminded=work["reminded"],
                        overdue=work["overdue"])
        if work.get("scorecards"):
            logger.info("scorecards_published", month=work["month"], scorecards=work["scorecards"])
        if work["restated"] is not None:
            logger.info("monthly_reports_checked", month=work["month"], restated=work["restated"])

    def tick() -> dict[str, Any]:
        today = clock.today()
        work: dict[str, Any] = {"month": last_month(today), "restated": None}
        work["sealed"] = reports.seal(work["month"], root)
        work.update(reports.chase(work["month"], today, due_day, remind_days, root))
        if cards is not None and today > due_on(work["month"], due_day):
            work["scorecards"] = cards.publish(work["month"], root)
        if restated_on[0] != today:
            try:
                work["restated"] = reports.restate(work["month"], root)
            except Exception:
                done(work)  # what was sealed is logged even when the check fails
                raise
            restated_on[0] = today
        return work

    run_loop(tick, should_stop=should_stop, logger=logger, interval_s=interval_s, sleep=stoppable_sleep(should_stop),
             done=done, failed_event="monthly_reports_retrying", claim=claim, metrics=metrics)
