"""The day-close scheduler: after the cut-off, closes today's roll for every school that has not closed it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Callable

from services.attendance.application import AttendanceApp
from services.runtime.auth import system_actor


def due_day(app: AttendanceApp, now: datetime) -> date | None:
    """Today (local) if it is a school day and the cut-off has passed, else None."""
    local = now.astimezone(app.tz)
    if local.time() < app.settings.cutoff_time():
        return None
    return local.date()


def close_due_days(app: AttendanceApp, done: set[tuple[str, date]] | None = None) -> int:
    """Closes today's open rolls after the cut-off; returns how many this call closed or confirmed."""
    day = due_day(app, app.clock.now())
    if day is None:
        return 0
    done = done if done is not None else set()
    due = [
        s for s in app.store.schools() if (s.school_id, day) not in done and app.calendar_for(s).is_school_day(day)
    ]
    by_county: dict[str, list] = {}
    for school in due:
        by_county.setdefault(school.county_code, []).append(school)
    for county, schools in sorted(by_county.items()):
        actor = system_actor("attendance", county)
        app.close_days(day, schools, actor.meta(str(uuid.uuid4()), app.clock.now()))
        done.update((s.school_id, day) for s in schools)
    return len(due)


def run_scheduler(app: AttendanceApp, logger: Any, should_stop: Callable[[], bool], sleep: Callable[[float], Any]) -> None:
    """Polls until stopped; closing is idempotent, so a restart or a second scheduler does no harm."""
    done: set[tuple[str, date]] = set()
    logger.info("scheduler_started", cutoff=app.settings.day_close_cutoff)
    while not should_stop():
        try:
            closed = close_due_days(app, done)
            if closed:
                logger.info("school_days_closed", count=closed)
            today = app.clock.today()
            done = {key for key in done if key[1] == today}
        except Exception as exc:  # noqa: BLE001 - the loop must outlive database outages
            logger.warning("scheduler_retrying", error=str(exc)[:300])
        sleep(app.settings.scheduler_interval_s)
    logger.info("scheduler_stopped")
