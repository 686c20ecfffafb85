"""Closing each county's open school days after that county's own cut-off (the scheduler's use case).

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
from typing import Any
from zoneinfo import ZoneInfo

from services.attendance.application.closing import ClosingCases
from services.attendance.application.configuration import Configuration
from services.attendance.application.ports import AttendanceStore
from services.attendance.domain.values import SchoolRow
from services.attendance.settings import AttendanceSettings
from services.runtime.actor import system_actor
from services.runtime.clock import Clock

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class CountyRun:
    """What one tick did for one county."""

    county_code: str
    cutoff: str
    days: list[date] = field(default_factory=list)  # days finished (closed, confirmed, or not school days)
    schools: int = 0  # school rolls this run closed
    error: str | None = None


class DayCloseCases:
    """What one scheduler tick does: every county's due days closed, progress recorded per county."""

    def __init__(
        self, store: AttendanceStore, clock: Clock, settings: AttendanceSettings, config: Configuration, closing: ClosingCases
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.closing = closing
        self.tz = ZoneInfo(settings.timezone)

    def due_days(self, county_code: str, now: datetime, closed_through: date) -> list[date]:
        """The county's days past their cut-off and after its progress, oldest first, within the correction window."""
        local = now.astimezone(self.tz)
        today = local.date()
        last = today if local.time() >= self.config.day_close_for(county_code).cutoff_time() else today - ONE_DAY
        window = self.config.rules_for(county_code).correction_window_days
        first = max(closed_through + ONE_DAY, today - timedelta(days=window))
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def close_county(self, county_code: str, schools: list[SchoolRow], closed_through: date) -> CountyRun:
        """Closes the county's due days in order; progress moves after each day whose schools are all closed."""
        config = self.config.day_close_for(county_code)
        finished: list[date] = []
        closed = 0
        for day in self.due_days(county_code, self.clock.now(), closed_through):
            due = [s for s in schools if self.config.calendar_for(s).is_school_day(day)]
            already = self.store.closed_on([s.school_id for s in due], day) if due else set()
            to_close = [s for s in due if s.school_id not in already]
            if to_close:
                meta = system_actor("attendance", county_code).meta(str(uuid.uuid4()), self.clock.now())
                meta.update(trigger="day_close_cutoff", cutoff=config.cutoff, cutoff_version=config.version)
                self.closing.close_days(day, to_close, meta)
                closed += len(to_close)
            self.store.advance_day_close(county_code, day)
            finished.append(day)
        return CountyRun(county_code, config.cutoff, finished, closed)

    def run_once(self, logger: Any = None) -> list[CountyRun]:
        """One tick over every county with schools; a county that fails does not stop the others."""
        today = self.clock.now().astimezone(self.tz).date()
        by_county: dict[str, list[SchoolRow]] = {}
        for school in self.store.schools():
            by_county.setdefault(school.county_code, []).append(school)
        progress = self.store.day_close_progress()
        runs = []
        for county_code, schools in sorted(by_county.items()):
            try:
                closed_through = progress.get(county_code)
                if closed_through is None:  # first sight: from today on, not the history before the scheduler ran
                    closed_through = today - ONE_DAY
                    self.store.advance_day_close(county_code, closed_through, only_if_new=True)
                runs.append(self.close_county(county_code, schools, closed_through))
            except Exception as exc:  # noqa: BLE001 - one county's outage must not stop the others
                runs.append(CountyRun(county_code, self.config.day_close_for(county_code).cutoff, error=f"{type(exc).__name__}: {exc}"[:300]))
                if logger is not None:
                    logger.warning("county_day_close_failed", county=county_code, error=runs[-1].error)
        return runs

    def overdue(self) -> int:
        """School days (school x day) past their county's cut-off and not closed, that the scheduler would close:
        after the county's progress, within the correction window (``baoxue_day_closes_overdue``). Right after a
        tick that went well it is 0; a county whose close keeps failing, or a scheduler that is down, makes it grow."""
        now = self.clock.now()
        today = now.astimezone(self.tz).date()
        by_county: dict[str, list[SchoolRow]] = {}
        for school in self.store.schools():
            by_county.setdefault(school.county_code, []).append(school)
        progress = self.store.day_close_progress()
        count = 0
        for county_code, schools in by_county.items():
            for day in self.due_days(county_code, now, progress.get(county_code, today - ONE_DAY)):
                due = [s.school_id for s in schools if self.config.calendar_for(s).is_school_day(day)]
                if due:
                    count += len(due) - len(self.store.closed_on(due, day))
        return count

    def close_due_days(self, done: set[tuple[str, date]] | None = None, logger: Any = None) -> int:
        """One tick; returns how many school rolls it closed (``done``, if given, collects them)."""
        runs = self.run_once(logger)
        if done is not None:
            done.update((r.county_code, d) for r in runs for d in r.days)
        return sum(r.schools for r in runs)
