"""The day-close scheduler: closes each county's open school days after that county's own cut-off.

Per county and tick: the days from the day after the county's recorded progress (``day_close_progress``) through
today (once the county's cut-off has passed) — at most the correction window back, so days missed while the
scheduler was down are caught up, oldest first, and a day too old to be corrected is never closed by a machine.
Progress is first recorded as "through yesterday": a new deployment does not close history nobody collected.
Closing is idempotent (already closed schools are skipped, a second scheduler finds them closed), and each county
runs on its own: one county's failure is logged and retried next tick, the others go on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable

from services.attendance.application import AttendanceApp
from services.attendance.ports import SchoolRow
from services.runtime.auth import system_actor
from services.runtime.logging import error_text

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class CountyRun:
    """What one tick did for one county."""

    county_code: str
    cutoff: str
    days: list[date] = field(default_factory=list)  # days finished (closed, confirmed, or not school days)
    schools: int = 0  # school rolls this run closed
    error: str | None = None


def due_days(app: AttendanceApp, county_code: str, now: datetime, closed_through: date) -> list[date]:
    """The county's days past their cut-off and after its progress, oldest first, within the correction window."""
    local = now.astimezone(app.tz)
    today = local.date()
    last = today if local.time() >= app.day_close_for(county_code).cutoff_time() else today - ONE_DAY
    window = app.rules_for(county_code).correction_window_days
    first = max(closed_through + ONE_DAY, today - timedelta(days=window))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def close_county(app: AttendanceApp, county_code: str, schools: list[SchoolRow], closed_through: date) -> CountyRun:
    """Closes the county's due days in order; progress moves after each day whose schools are all closed."""
    config = app.day_close_for(county_code)
    finished: list[date] = []
    closed = 0
    for day in due_days(app, county_code, app.clock.now(), closed_through):
        due = [s for s in schools if app.calendar_for(s).is_school_day(day)]
        already = app.store.closed_on([s.school_id for s in due], day) if due else set()
        to_close = [s for s in due if s.school_id not in already]
        if to_close:
            meta = system_actor("attendance", county_code).meta(str(uuid.uuid4()), app.clock.now())
            meta.update(trigger="day_close_cutoff", cutoff=config.cutoff, cutoff_version=config.version)
            app.close_days(day, to_close, meta)
            closed += len(to_close)
        app.store.advance_day_close(county_code, day)
        finished.append(day)
    return CountyRun(county_code, config.cutoff, finished, closed)


def run_once(app: AttendanceApp, logger: Any = None) -> list[CountyRun]:
    """One tick over every county with schools; a county that fails does not stop the others."""
    today = app.clock.now().astimezone(app.tz).date()
    by_county: dict[str, list[SchoolRow]] = {}
    for school in app.store.schools():
        by_county.setdefault(school.county_code, []).append(school)
    progress = app.store.day_close_progress()
    runs = []
    for county_code, schools in sorted(by_county.items()):
        try:
            closed_through = progress.get(county_code)
            if closed_through is None:  # first sight: from today on, not the history before the scheduler ran
                closed_through = today - ONE_DAY
                app.store.advance_day_close(county_code, closed_through, only_if_new=True)
            runs.append(close_county(app, county_code, schools, closed_through))
        except Exception as exc:  # noqa: BLE001 - one county's outage must not stop the others
            runs.append(CountyRun(county_code, app.day_close_for(county_code).cutoff, error=f"{type(exc).__name__}: {exc}"[:300]))
            if logger is not None:
                logger.warning("county_day_close_failed", county=county_code, error=runs[-1].error)
    return runs


def close_due_days(app: AttendanceApp, done: set[tuple[str, date]] | None = None, logger: Any = None) -> int:
    """One tick; returns how many school rolls it closed (``done``, if given, collects them)."""
    runs = run_once(app, logger)
    if done is not None:
        done.update((r.county_code, d) for r in runs for d in r.days)
    return sum(r.schools for r in runs)


def run_scheduler(app: AttendanceApp, logger: Any, should_stop: Callable[[], bool], sleep: Callable[[float], Any]) -> None:
    """Polls until stopped; closing is idempotent, so a restart or a second scheduler does no harm."""
    logger.info("scheduler_started", default_cutoff=app.settings.day_close_cutoff)
    while not should_stop():
        try:
            for run in run_once(app, logger):
                if run.schools:
                    logger.info("school_days_closed", county=run.county_code, cutoff=run.cutoff, schools=run.schools,
                                days=[d.isoformat() for d in run.days])
        except Exception as exc:  # noqa: BLE001 - the loop must outlive database outages
            logger.warning("scheduler_retrying", error=error_text(exc))
        sleep(app.settings.scheduler_interval_s)
    logger.info("scheduler_stopped")
