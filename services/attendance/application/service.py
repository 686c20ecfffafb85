"""The attendance service as its entrypoints see it: the use cases composed from the collaborators the bootstrap hands
in (event store, read models, clock, settings), and one method per command or query, delegating to them."""

from __future__ import annotations

from datetime import date
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from services.attendance.application.app import AttendanceApp
from services.attendance.application.checkins import CheckinCases, CheckinResult, SchoolCheckin
from services.attendance.application.closing import ClosingCases
from services.attendance.application.configuration import Configuration
from services.attendance.application.day_close import DayCloseCases
from services.attendance.application.leave_requests import LeaveCases, LeaveResult
from services.attendance.application.leave_sync import LeaveBatchResult, LeaveSyncCases, LeaveSyncItem
from services.attendance.application.ports import AttendanceStore
from services.attendance.application.queries import DaySummary, Queries, RosterView
from services.attendance.domain.calendar import SchoolCalendar
from services.attendance.domain.configuration import DayCloseConfig
from services.attendance.domain.rules import AbsenceRules
from services.attendance.domain.student_attendance import StudentAttendance
from services.attendance.domain.values import CheckinColumns, CheckinRow, SchoolRow
from services.attendance.settings import AttendanceSettings
from services.runtime.clock import Clock


class Attendance:
    """Every attendance use case, built once from its collaborators (constructor injection, nothing set later)."""

    def __init__(self, event_store: AttendanceApp, store: AttendanceStore, clock: Clock, settings: AttendanceSettings) -> None:
        self.event_store = event_store
        self.store = store
        self.clock = clock
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.config = Configuration(event_store, store, settings)
        self.calendar = self.config.calendar  # the default calendar (no county calendar set)
        self.queries = Queries(event_store, store, clock)
        self.checkins = CheckinCases(event_store, store, clock, settings, self.config, self.queries)
        self.closing = ClosingCases(event_store, store, clock, settings, self.config, self.queries)
        self.leave = LeaveCases(event_store, store, clock, settings, self.config, self.queries)
        self.leave_sync = LeaveSyncCases(event_store, store, clock, settings, self.config, self.queries, self.leave)
        self.day_close = DayCloseCases(store, clock, settings, self.config, self.closing)

    # -- configuration -------------------------------------------------------------------------
    def calendar_for(self, school: SchoolRow) -> SchoolCalendar:
        return self.config.calendar_for(school)

    def rules_for(self, jurisdiction_code: str) -> AbsenceRules:
        return self.config.rules_for(jurisdiction_code)

    def day_close_for(self, county_code: str) -> DayCloseConfig:
        return self.config.day_close_for(county_code)

    def set_calendar(self, county_code: str, body: dict[str, Any], meta: dict[str, Any]) -> SchoolCalendar:
        return self.config.set_calendar(county_code, body, meta)

    def set_rules(self, jurisdiction: str, body: dict[str, Any], meta: dict[str, Any]) -> AbsenceRules:
        return self.config.set_rules(jurisdiction, body, meta)

    def set_day_close(self, county_code: str, body: dict[str, Any], meta: dict[str, Any]) -> DayCloseConfig:
        return self.config.set_day_close(county_code, body, meta)

    # -- queries -------------------------------------------------------------------------------
    def school(self, school_id: str) -> SchoolRow:
        return self.queries.school(school_id)

    def roster(self, school_id: str) -> RosterView:
        return self.queries.roster(school_id)

    def day_summary(self, school_id: str, day: date) -> DaySummary:
        return self.queries.day_summary(school_id, day)

    def student_attendance(self, student_id: str) -> StudentAttendance | None:
        return self.queries.student_attendance(student_id)

    # -- check-ins, closing, corrections ---------------------------------------------------------
    def record_checkins(
        self, school_id: str, day: date, items: Sequence[CheckinRow], meta: dict[str, Any] | None = None
    ) -> CheckinResult:
        return self.checkins.record_checkins(school_id, day, items, meta)

    def record_checkins_bulk(
        self,
        day: date,
        items: CheckinColumns | Sequence[SchoolCheckin],
        meta: dict[str, Any] | None = None,
        schools: dict[str, SchoolRow] | None = None,
    ) -> CheckinResult:
        return self.checkins.record_checkins_bulk(day, items, meta, schools)

    def close_day(self, school_id: str, day: date, meta: dict[str, Any]) -> DaySummary:
        return self.closing.close_day(school_id, day, meta)

    def close_days(self, day: date, schools: list[SchoolRow], meta: dict[str, Any]) -> list[DaySummary]:
        return self.closing.close_days(day, schools, meta)

    def correct_day(
        self, school_id: str, day: date, student_id: str, to_status: str, reason: str, meta: dict[str, Any]
    ) -> DaySummary:
        return self.closing.correct_day(school_id, day, student_id, to_status, reason, meta)

    # -- leave ---------------------------------------------------------------------------------
    def request_leave(
        self, school_id: str, student_id: str, first_day: date, last_day: date, kind: str, reason: str, meta: dict[str, Any]
    ) -> LeaveResult:
        return self.leave.request_leave(school_id, student_id, first_day, last_day, kind, reason, meta)

    def decide_leave(self, school_id: str, leave_id: str, approve: bool, note: str, meta: dict[str, Any]) -> LeaveResult:
        return self.leave.decide_leave(school_id, leave_id, approve, note, meta)

    def leave_of(self, school_id: str, leave_id: str) -> LeaveResult:
        return self.leave.leave_of(school_id, leave_id)

    def sync_leaves(
        self, items: Sequence[LeaveSyncItem], meta: dict[str, Any], schools: dict[str, SchoolRow] | None = None
    ) -> LeaveBatchResult:
        return self.leave_sync.sync_leaves(items, meta, schools)
