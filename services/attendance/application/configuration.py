"""Configuration use cases: county calendars, jurisdiction rules and day-close cut-offs, set as events and read
through a short cache shared by the other use cases."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from services.attendance.application.app import AttendanceApp
from services.attendance.application.ports import AttendanceStore
from services.attendance.domain.calendar import SchoolCalendar
from services.attendance.domain.configuration import CountyCalendar, CountyDayClose, DayCloseConfig, RuleSet
from services.attendance.domain.rules import AbsenceRules, rules_for
from services.attendance.domain.values import SchoolRow
from services.attendance.settings import AttendanceSettings
from services.runtime.aggregates import load


@dataclass(frozen=True)
class Configured:
    """What officers configured: calendars per county, rules per jurisdiction, cut-offs per county."""

    calendars: dict[str, SchoolCalendar]
    rules: dict[str, AbsenceRules]
    day_closes: dict[str, DayCloseConfig]


class Configuration:
    """Reads and sets calendars, rules and cut-offs; every rule of the other use cases asks it."""

    def __init__(self, events: AttendanceApp, store: AttendanceStore, settings: AttendanceSettings) -> None:
        self.events = events
        self.store = store
        self.settings = settings
        self.calendar = SchoolCalendar.of(settings.holidays, settings.makeup_days)
        self.default_rules = AbsenceRules(
            consecutive_days=settings.absence_threshold_days,
            chronic_ratio=settings.chronic_absence_ratio,
            term_start_days=settings.term_start_days,
            correction_window_days=settings.correction_window_days,
            long_leave_school_days=settings.long_leave_school_days,
        )
        self._config: tuple[float, Configured] | None = None

    def _configured(self) -> Configured:
        """County calendars, rule sets and cut-offs, re-read at most every ``config_ttl_s`` (shared by API workers)."""
        now = time.monotonic()
        if self._config is None or now - self._config[0] > self.settings.config_ttl_s:
            store = self.store
            calendars = {c: SchoolCalendar.from_body(b, v) for c, (b, v) in store.configuration("calendar").items()}
            rules = {c: AbsenceRules.from_body(b, v, c) for c, (b, v) in store.configuration("rules").items()}
            closes = {c: DayCloseConfig.from_body(b, v, c) for c, (b, v) in store.configuration("day_close").items()}
            self._config = (now, Configured(calendars, rules, closes))
        return self._config[1]

    def calendar_for(self, school: SchoolRow) -> SchoolCalendar:
        """The county's calendar if one was set, else the configured default."""
        return self._configured().calendars.get(school.county_code, self.calendar)

    def rules_for(self, jurisdiction_code: str) -> AbsenceRules:
        """The rules of the most specific jurisdiction covering the code."""
        return rules_for(jurisdiction_code, self._configured().rules, self.default_rules)

    def day_close_for(self, county_code: str) -> DayCloseConfig:
        """The county's cut-off if one was set, else ``BAOXUE_DAY_CLOSE_CUTOFF`` (version 1)."""
        found = self._configured().day_closes.get(county_code)
        return found or DayCloseConfig(county_code, self.settings.day_close_cutoff, 1)

    def set_day_close(self, county_code: str, body: dict[str, Any], meta: dict[str, Any]) -> DayCloseConfig:
        """Sets a county's cut-off (a new version); the scheduler closes the county's days after it from then on."""
        existing = load(self.events.repository, CountyDayClose, CountyDayClose.create_id(county_code))
        version = 2 if existing is None else existing.day_close_version + 1
        config = DayCloseConfig.from_body(body, version, county_code)
        if existing is None:
            existing = CountyDayClose(county_code=county_code, body=config.to_body(), meta=meta)
        else:
            existing.change(body=config.to_body(), meta=meta)
        self.events.save(existing)
        self._config = None
        return config

    def set_calendar(self, county_code: str, body: dict[str, Any], meta: dict[str, Any]) -> SchoolCalendar:
        """Sets a county's calendar (a new version each time); rules read it from the next request on."""
        calendar = SchoolCalendar.from_body(body)
        body = calendar.to_body()
        existing = load(self.events.repository, CountyCalendar, CountyCalendar.create_id(county_code))
        if existing is None:
            existing = CountyCalendar(county_code=county_code, body=body, meta=meta)
        else:
            existing.change(body=body, meta=meta)
        self.events.save(existing)
        self._config = None
        return SchoolCalendar.from_body(body, existing.calendar_version)

    def set_rules(self, jurisdiction: str, body: dict[str, Any], meta: dict[str, Any]) -> AbsenceRules:
        """Sets a jurisdiction's rules; flags raised from now on record the new version."""
        existing = load(self.events.repository, RuleSet, RuleSet.create_id(jurisdiction))
        version = 2 if existing is None else existing.rules_version + 1
        rules = AbsenceRules.from_body(body, version, jurisdiction)
        if existing is None:
            existing = RuleSet(jurisdiction=jurisdiction, body=rules.to_body(), meta=meta)
        else:
            existing.change(body=rules.to_body(), meta=meta)
        self.events.save(existing)
        self._config = None
        return rules
