"""Attendance queries: a school, its roster today, a day's roll (closed as recorded, or so far), a student's record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from services.attendance.application.app import AttendanceApp
from services.attendance.application.ports import AttendanceStore
from services.attendance.domain.errors import UnknownSchool
from services.attendance.domain.school_day import SchoolDay, school_day_id
from services.attendance.domain.student_attendance import StudentAttendance, student_attendance_id
from services.attendance.domain.values import RosterEntry, SchoolRow
from services.runtime.aggregates import load
from services.runtime.clock import Clock


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
    corrections: int = 0


@dataclass(frozen=True)
class RosterView:
    school_id: str
    township_code: str
    count: int
    students: list[RosterEntry]


class Queries:
    """What readers and the other use cases look up; nothing here writes."""

    def __init__(self, events: AttendanceApp, store: AttendanceStore, clock: Clock) -> None:
        self.events = events
        self.store = store
        self.clock = clock

    def school(self, school_id: str) -> SchoolRow:
        school = self.store.school(school_id)
        if school is None:
            raise UnknownSchool(school_id)
        return school

    def roster(self, school_id: str) -> RosterView:
        school = self.school(school_id)
        students = self.store.roster(school_id, self.clock.today())
        return RosterView(school.school_id, school.township_code, len(students), students)

    def day_summary(self, school_id: str, day: date) -> DaySummary:
        """The closed roll as recorded (with corrections), or the roll so far for an open day."""
        school = self.school(school_id)
        closed = load(self.events.repository, SchoolDay, school_day_id(school_id, day))
        if closed is not None:
            return closed_summary(closed)
        with self.store.day_work(school_id, day, exclusive=False) as work:
            roll = work.roll(school_id, day)
        waiting = [r.student_id for r in roll if not r.checked_in]
        on_leave = self.store.on_leave(school_id, day, waiting)
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

    def student_attendance(self, student_id: str) -> StudentAttendance | None:
        return load(self.events.repository, StudentAttendance, student_attendance_id(student_id))


def closed_summary(school_day: SchoolDay) -> DaySummary:
    """The roll as it was closed and corrected; the time is the business time of the close (the injected clock)."""
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
        corrections=len(getattr(school_day, "corrections", []) or []),
    )
