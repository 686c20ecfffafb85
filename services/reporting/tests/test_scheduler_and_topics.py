"""The month-end scheduler's loop (seal every tick, restate once a day, outlive failures, log its work) and the
report store's old topics (events stored before the aggregate moved into ``domain/`` still load)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from eventsourcing.utils import resolve_topic

from services.reporting.application.monthly import MonthlyReports
from services.reporting.domain.monthly import MonthlyReport
from services.reporting.entrypoints import scheduler
from services.runtime.clock import FixedClock


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict]] = []

    def info(self, event: str, **fields: object) -> None:
        self.lines.append((event, fields))

    warning = info


class Reports:
    """Counts the calls; the first seal fails (a database outage)."""

    def __init__(self) -> None:
        self.sealed: list[str] = []
        self.restated: list[str] = []

    def seal(self, month: str, root: str) -> int:
        self.sealed.append(month)
        if len(self.sealed) == 1:
            raise ConnectionError("database down")
        return 5 if len(self.sealed) == 2 else 0

    def restate(self, month: str, root: str) -> int:
        self.restated.append(month)
        return 0

    def chase(self, month: str, today, due_day: int, remind_days: int, root: str) -> dict[str, int]:
        self.chased = getattr(self, "chased", []) + [(month, today)]
        return {"reminded": 0, "overdue": 0} if today.day < 6 else {"reminded": 0, "overdue": 2}


class Cards:
    def __init__(self) -> None:
        self.published: list[str] = []

    def publish(self, period: str, root: str) -> int:
        self.published.append(period)
        return 3


def test_the_scheduler_seals_last_month_every_tick_restates_once_a_day_and_outlives_a_failure() -> None:
    reports, log = Reports(), Log()
    scheduler.run(reports, clock=FixedClock(datetime(2025, 10, 1, 2, 0, tzinfo=timezone.utc)), logger=log,  # type: ignore[arg-type]
                  root="52", interval_s=0, should_stop=lambda: len(reports.sealed) >= 4)
    assert reports.sealed == ["2025-09"] * 4 and reports.restated == ["2025-09"]  # after the failure, once that day
    events = [e for e, _ in log.lines]
    assert events == ["scheduler_started", "monthly_reports_retrying", "monthly_reports_sealed",
                      "monthly_reports_checked", "scheduler_stopped"]
    assert dict(log.lines[2][1]) == {"month": "2025-09", "reports": 5}


def test_after_the_due_day_late_units_are_chased_and_scorecards_published() -> None:
    reports, log, cards = Reports(), Log(), Cards()
    reports.sealed.append("before")  # no outage this time
    scheduler.run(reports, clock=FixedClock(datetime(2025, 10, 6, 2, 0, tzinfo=timezone.utc)), logger=log,  # type: ignore[arg-type]
                  root="52", interval_s=0, should_stop=lambda: len(reports.sealed) >= 2, cards=cards)
    assert reports.chased == [("2025-09", date(2025, 10, 6))] and cards.published == ["2025-09"]
    chased = dict(next(f for e, f in log.lines if e == "monthly_reports_chased"))
    assert chased == {"month": "2025-09", "reminded": 0, "overdue": 2}
    assert dict(next(f for e, f in log.lines if e == "scorecards_published")) == {"month": "2025-09", "scorecards": 3}


def test_last_month_is_the_month_before_today() -> None:
    assert scheduler.last_month(date(2025, 10, 1)) == "2025-09"
    assert scheduler.last_month(date(2026, 1, 31)) == "2025-12"


def test_events_stored_under_the_old_module_topic_still_resolve() -> None:
    assert MonthlyReports  # importing the use cases registers the old topic
    assert resolve_topic("services.reporting.monthly.domain:MonthlyReport") is MonthlyReport
    assert resolve_topic("services.reporting.monthly.domain:MonthlyReport.Sealed") is MonthlyReport.Sealed
