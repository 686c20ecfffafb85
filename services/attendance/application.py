"""Attendance use cases: take check-ins in bulk, close a school day, flag consecutive absence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Sequence
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from contracts import Contract
from contracts.events import AbsenceRecordedV1, SchoolDayClosedV1, SuspectedDropoutDetectedV1
from services.attendance.domain import (
    CHECKIN_STATUSES,
    BatchRejected,
    DayClosed,
    InvalidInput,
    RowError,
    SchoolCalendar,
    SchoolDay,
    StudentAttendance,
    UnknownSchool,
    school_day_id,
    student_attendance_id,
)
from services.attendance.ports import AttendanceStore, CheckinRow, LeaveSource, NoLeaveRecords, RosterEntry, SchoolRow
from services.attendance.settings import AttendanceSettings
from services.runtime.clock import Clock
from services.runtime.eventstore import ServiceApplication

CLOSE_ATTEMPTS = 3
ROW_PROBLEMS = {
    "unknown_student": "学生不在该校花名册中 (student not on this school's roster)",
    "invalid_status": "签到状态须为 present、late 或 left_early (invalid status)",
    "checked_at_day": "签到时间不在该日 (checked_at is not on this day)",
    "checked_at_future": "签到时间晚于当前时间 (checked_at is in the future)",
    "conflicting_duplicate": "同一学生在本批中出现多次且内容不同 (conflicting duplicate)",
}


@dataclass(frozen=True)
class CheckinResult:
    school_id: str
    day: date
    received: int
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class DaySummary:
    school_id: str
    day: date
    township_code: str
    status: str  # open | closed
    enrolled: int
    present: int
    on_leave: int
    absent: int
    absent_student_ids: list[str]
    closed_at: datetime | None = None
    closed_by: str | None = None


@dataclass(frozen=True)
class RosterView:
    school_id: str
    township_code: str
    count: int
    students: list[RosterEntry]


class AttendanceApp(ServiceApplication):
    """Attendance's event-sourced application (schema ``attendance``); needs ``attach`` before use."""

    name = "Attendance"

    def attach(
        self, store: AttendanceStore, clock: Clock, settings: AttendanceSettings, leave: LeaveSource | None = None
    ) -> "AttendanceApp":
        """Gives the application its read models, clock and rules (the event store comes from the constructor)."""
        self.store = store
        self.clock = clock
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.leave = leave or NoLeaveRecords()
        self.calendar = SchoolCalendar.of(settings.holidays, settings.makeup_days)
        return self

    def calendar_for(self, school: SchoolRow) -> SchoolCalendar:
        """The school's calendar; one for all counties until per-county calendars are loaded."""
        return self.calendar

    # -- queries -------------------------------------------------------------------------------
    def school(self, school_id: str) -> SchoolRow:
        school = self.store.school(school_id)
        if school is None:
            raise UnknownSchool(school_id)
        return school

    def roster(self, school_id: str) -> RosterView:
        school = self.school(school_id)
        students = self.store.roster(school_id)
        return RosterView(school.school_id, school.township_code, len(students), students)

    def day_summary(self, school_id: str, day: date) -> DaySummary:
        """The closed roll as recorded, or the roll so far for an open day."""
        school = self.school(school_id)
        closed = self._get(SchoolDay, school_day_id(school_id, day))
        if closed is not None:
            return closed_summary(closed)
        with self.store.day_work(school_id, day, exclusive=False) as work:
            roll = work.roll(school_id, day)
        waiting = [r.student_id for r in roll if not r.checked_in]
        on_leave = self.leave.on_leave(school_id, day, waiting)
        absent = [s for s in waiting if s not in on_leave]
        return DaySummary(
            school_id=school_id,
            day=day,
            township_code=school.township_code,
            status="open",
            enrolled=len(roll),
            present=len(roll) - len(waiting),
            on_leave=len(on_leave),
            absent=len(absent),
            absent_student_ids=absent,
        )

    # -- commands ------------------------------------------------------------------------------
    def record_checkins(self, school_id: str, day: date, items: Sequence[CheckinRow]) -> CheckinResult:
        """Validates the whole batch, then stores it in one statement; rows already stored count as duplicates."""
        school = self.school(school_id)
        self.calendar_for(school).check_roll_day(day, self.clock.today())
        limit = self.settings.max_checkin_batch
        if not 1 <= len(items) <= limit:
            raise InvalidInput(f"每批签到须为 1 至 {limit} 条，收到 {len(items)} 条 (batch size)", rule="batch_size")
        rows = self._valid_rows(school_id, day, items)
        with self.store.day_work(school_id, day, exclusive=False) as work:
            if self._get(SchoolDay, school_day_id(school_id, day)) is not None:
                raise DayClosed(school_id, day)
            accepted = work.insert_checkins(school_id, day, rows)
        return CheckinResult(school_id, day, len(items), accepted, len(items) - accepted)

    def close_day(self, school_id: str, day: date, meta: dict[str, Any]) -> DaySummary:
        """Closes a school's roll: one event for the day, one per absence and per flag, saved together.

        Closing again returns the first result.
        """
        school = self.school(school_id)
        self.calendar_for(school).check_roll_day(day, self.clock.today())
        for attempt in range(CLOSE_ATTEMPTS):
            try:
                return self._close(school, day, meta)
            except IntegrityError:
                if attempt == CLOSE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _close(self, school: SchoolRow, day: date, meta: dict[str, Any]) -> DaySummary:
        calendar = self.calendar_for(school)
        with self.store.day_work(school.school_id, day, exclusive=True) as work:
            existing = self._get(SchoolDay, school_day_id(school.school_id, day))
            if existing is not None:
                return closed_summary(existing)
            roll = work.roll(school.school_id, day)
            waiting = [r for r in roll if not r.checked_in]
            on_leave = self.leave.on_leave(school.school_id, day, [r.student_id for r in waiting])
            absent = [r for r in waiting if r.student_id not in on_leave]
            school_day = SchoolDay(
                school_id=school.school_id,
                day=day,
                township_code=school.township_code,
                enrolled=len(roll),
                present=len(roll) - len(waiting),
                on_leave=len(on_leave),
                absent_student_ids=[r.student_id for r in absent],
                meta=meta,
            )
            previous = calendar.previous_school_day(day)
            students = []
            for entry in absent:
                record = self._get(StudentAttendance, student_attendance_id(entry.student_id))
                if record is None:
                    record = StudentAttendance(
                        student_id=entry.student_id,
                        school_id=school.school_id,
                        township_code=entry.township_code,
                        meta=meta,
                    )
                if record.record_absence(
                    day,
                    previous,
                    self.settings.absence_threshold_days,
                    meta,
                    school_id=school.school_id,
                    township_code=entry.township_code,
                ):
                    students.append(record)
            self.save(school_day, *students)
        return closed_summary(school_day)

    def student_attendance(self, student_id: str) -> StudentAttendance | None:
        return self._get(StudentAttendance, student_attendance_id(student_id))

    # -- helpers -------------------------------------------------------------------------------
    def _valid_rows(self, school_id: str, day: date, items: Sequence[CheckinRow]) -> list[CheckinRow]:
        """Every row checked before anything is written; identical repeats inside a batch collapse to one."""
        errors: list[RowError] = []
        seen: dict[str, CheckinRow] = {}
        now = self.clock.now()
        known = self.store.on_roster(school_id, list({i.student_id for i in items}))
        for index, item in enumerate(items):
            row = CheckinRow(item.student_id, item.status, item.checked_at, item.device)
            problem = self._row_problem(row, day, now, known, seen)
            if problem is not None:
                errors.append(RowError(index, item.student_id, ROW_PROBLEMS[problem], problem))
            else:
                seen.setdefault(item.student_id, row)
        if errors:
            raise BatchRejected(errors)
        return list(seen.values())

    def _row_problem(
        self, row: CheckinRow, day: date, now: datetime, known: set[str], seen: dict[str, CheckinRow]
    ) -> str | None:
        """The first thing wrong with one check-in row, by code, or None."""
        if row.student_id not in known:
            return "unknown_student"
        if row.status not in CHECKIN_STATUSES:
            return "invalid_status"
        if row.checked_at is not None and row.checked_at.astimezone(self.tz).date() != day:
            return "checked_at_day"
        if row.checked_at is not None and row.checked_at > now:
            return "checked_at_future"
        if row.student_id in seen and seen[row.student_id] != row:
            return "conflicting_duplicate"
        return None

    def _get(self, cls: type, aggregate_id: UUID) -> Any:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None


def closed_summary(school_day: SchoolDay) -> DaySummary:
    """The roll as it was closed; the time is the business time of the command (the injected clock)."""
    meta = school_day.meta or {}
    closed_at = datetime.fromisoformat(meta["at"]) if meta.get("at") else school_day.created_on
    return DaySummary(
        school_id=school_day.school_id,
        day=school_day.day,
        township_code=school_day.township_code,
        status="closed",
        enrolled=school_day.enrolled,
        present=school_day.present,
        on_leave=school_day.on_leave,
        absent=school_day.absent,
        absent_student_ids=list(school_day.absent_student_ids),
        closed_at=closed_at,
        closed_by=meta.get("actor_id"),
    )


def to_contract(domain_event: Any) -> Contract | None:
    """Maps stored attendance events to their public contracts (Started is internal)."""
    if isinstance(domain_event, SchoolDay.Closed):
        return SchoolDayClosedV1(
            school_id=domain_event.school_id,
            day=domain_event.day,
            township_code=domain_event.township_code,
            enrolled=domain_event.enrolled,
            present=domain_event.present,
            on_leave=domain_event.on_leave,
            absent=len(domain_event.absent_student_ids),
        )
    if isinstance(domain_event, StudentAttendance.AbsenceRecorded):
        return AbsenceRecordedV1(
            student_id=domain_event.student_id,
            school_id=domain_event.school_id,
            township_code=domain_event.township_code,
            day=domain_event.day,
            consecutive_school_days=domain_event.consecutive_school_days,
        )
    if isinstance(domain_event, StudentAttendance.SuspectedDropoutDetected):
        return SuspectedDropoutDetectedV1(
            detection_id=domain_event.detection_id,
            student_id=domain_event.student_id,
            school_id=domain_event.school_id,
            township_code=domain_event.township_code,
            absent_days=list(domain_event.absent_days),
            rule=domain_event.rule,
            rule_version=domain_event.rule_version,
            threshold_days=domain_event.threshold_days,
        )
    return None
