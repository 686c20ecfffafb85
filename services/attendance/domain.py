"""Attendance domain (考勤): school calendars, a school's day roll, and each student's absence record.

Pure: no I/O, no settings, no clock. Rules raise named errors carrying the rule they enforce.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("0c7a4f55-3b8e-4d8a-9d43-4f1e7a2b6c10")
CONSECUTIVE_ABSENCE_RULE = "consecutive_unexcused_absence"
CONSECUTIVE_ABSENCE_RULE_VERSION = 1
CHECKIN_STATUSES = ("present", "late", "left_early")


# -- errors ------------------------------------------------------------------------------------
class AttendanceError(Exception):
    """An attendance rule was broken."""

    code = "attendance_rule"

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule


class InvalidInput(AttendanceError):
    code = "invalid_input"


class DayInFuture(InvalidInput):
    code = "day_in_future"

    def __init__(self, day: date, today: date) -> None:
        super().__init__(f"日期 {day} 晚于今天 {today}，不能登记或关账 (date is in the future)", rule="day_not_in_future")


class DayNotSchoolDay(InvalidInput):
    code = "not_school_day"

    def __init__(self, day: date) -> None:
        super().__init__(f"{day} 不是上学日 (not a school day: weekend or holiday)", rule="school_day")


@dataclass(frozen=True)
class RowError:
    """Why one row of a check-in batch was refused."""

    index: int
    student_id: str
    reason: str
    code: str


class BatchRejected(InvalidInput):
    """A batch with any bad row is refused whole, so a client can fix and resend it."""

    code = "batch_rejected"

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"考勤批次有 {len(errors)} 行无效，整批未写入 (batch rejected, nothing written)", rule="batch_valid")
        self.errors = errors


class NotFound(AttendanceError):
    code = "not_found"


class UnknownSchool(NotFound):
    code = "unknown_school"

    def __init__(self, school_id: str) -> None:
        super().__init__(f"学校 {school_id} 不在花名册中 (unknown school)", rule="school_on_roster")


class Conflict(AttendanceError):
    code = "conflict"


class DayClosed(Conflict):
    code = "day_closed"

    def __init__(self, school_id: str, day: date) -> None:
        super().__init__(f"学校 {school_id} 的 {day} 考勤已关账，不再接收签到 (day already closed)", rule="day_open")


# -- calendar ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchoolCalendar:
    """School days are weekdays that are not holidays, plus make-up weekend days (调休上课)."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    makeup_days: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, holidays: list[date] | None = None, makeup_days: list[date] | None = None) -> "SchoolCalendar":
        return cls(frozenset(holidays or ()), frozenset(makeup_days or ()))

    def is_school_day(self, day: date) -> bool:
        if day in self.makeup_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def previous_school_day(self, day: date, horizon_days: int = 400) -> date | None:
        """The last school day before ``day`` (None if none within the horizon, e.g. after a long break)."""
        for back in range(1, horizon_days + 1):
            candidate = day - timedelta(days=back)
            if self.is_school_day(candidate):
                return candidate
        return None

    def next_school_day(self, day: date, horizon_days: int = 400) -> date | None:
        """The first school day after ``day``."""
        for ahead in range(1, horizon_days + 1):
            candidate = day + timedelta(days=ahead)
            if self.is_school_day(candidate):
                return candidate
        return None

    def school_days(self, start: date, end: date) -> list[date]:
        """School days from start to end inclusive."""
        days = (start + timedelta(days=n) for n in range((end - start).days + 1))
        return [d for d in days if self.is_school_day(d)]

    def check_roll_day(self, day: date, today: date) -> None:
        """A roll can only be taken or closed for a school day that is not in the future."""
        if day > today:
            raise DayInFuture(day, today)
        if not self.is_school_day(day):
            raise DayNotSchoolDay(day)


# -- a school's day roll -----------------------------------------------------------------------
def school_day_id(school_id: str, day: date) -> uuid.UUID:
    """One roll per school and date: closing it twice finds the first."""
    return uuid.uuid5(NAMESPACE, f"school-day:{school_id}:{day.isoformat()}")


class SchoolDay(Aggregate):
    """A school's closed roll for one date; it exists only once closed, so closing is create-once."""

    @event("Closed")
    def __init__(
        self,
        school_id: str,
        day: date,
        township_code: str,
        enrolled: int,
        present: int,
        on_leave: int,
        absent_student_ids: list[str],
        meta: dict[str, Any],
    ):
        self.school_id = school_id
        self.day = day
        self.township_code = township_code
        self.enrolled = enrolled
        self.present = present
        self.on_leave = on_leave
        self.absent_student_ids = list(absent_student_ids)
        self.meta = meta

    @staticmethod
    def create_id(school_id: str, day: date, **_: Any) -> uuid.UUID:
        return school_day_id(school_id, day)

    @property
    def absent(self) -> int:
        return len(self.absent_student_ids)


# -- a student's absence record ----------------------------------------------------------------
def student_attendance_id(student_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"student-attendance:{student_id}")


def detection_id_for(student_id: str, streak_start: date) -> uuid.UUID:
    """One detection per absence streak: re-running the rule cannot flag the same streak twice."""
    return uuid.uuid5(NAMESPACE, f"suspected-dropout:{student_id}:{streak_start.isoformat()}")


class StudentAttendance(Aggregate):
    """A student's unexcused absences and the current streak of consecutive school days absent."""

    @event("Started")
    def __init__(self, student_id: str, school_id: str, township_code: str, meta: dict[str, Any]):
        self.student_id = student_id
        self.school_id = school_id
        self.township_code = township_code
        self.meta = meta
        self.absences = 0
        self.last_absent_day: date | None = None
        self.streak_days: list[date] = []
        self.open_detection_id: str | None = None  # cleared by a later AttendanceResumed
        self.detection_ids: list[str] = []

    @staticmethod
    def create_id(student_id: str, **_: Any) -> uuid.UUID:
        return student_attendance_id(student_id)

    @property
    def consecutive_school_days(self) -> int:
        return len(self.streak_days)

    def record_absence(
        self,
        day: date,
        previous_school_day: date | None,
        threshold: int,
        meta: dict[str, Any],
        school_id: str | None = None,
        township_code: str | None = None,
    ) -> bool:
        """Records an unexcused absence; flags 疑似辍学 when the streak reaches the threshold. False if already recorded."""
        if threshold < 1:
            raise InvalidInput("连续缺勤阈值须至少为1天", rule="threshold_positive")
        if day in self.streak_days or day == self.last_absent_day:
            return False
        school_id = school_id or self.school_id
        township_code = township_code or self.township_code
        if self.last_absent_day is not None and day < self.last_absent_day:
            # A day closed late: recorded, but the streak is not recomputed backwards.
            self._absence_recorded(
                student_id=self.student_id,
                day=day,
                school_id=school_id,
                township_code=township_code,
                consecutive_school_days=1,
                meta=meta,
            )
            return True
        continuing = previous_school_day is not None and previous_school_day == self.last_absent_day
        consecutive = len(self.streak_days) + 1 if continuing else 1
        self._absence_recorded(
            student_id=self.student_id,
            day=day,
            school_id=school_id,
            township_code=township_code,
            consecutive_school_days=consecutive,
            meta=meta,
        )
        if self.consecutive_school_days >= threshold and self.open_detection_id is None:
            self._suspected_dropout_detected(
                student_id=self.student_id,
                detection_id=str(detection_id_for(self.student_id, self.streak_days[0])),
                absent_days=list(self.streak_days),
                rule=CONSECUTIVE_ABSENCE_RULE,
                rule_version=CONSECUTIVE_ABSENCE_RULE_VERSION,
                threshold_days=threshold,
                school_id=school_id,
                township_code=township_code,
                meta=meta,
            )
        return True

    @event("AbsenceRecorded")
    def _absence_recorded(
        self,
        student_id: str,
        day: date,
        school_id: str,
        township_code: str,
        consecutive_school_days: int,
        meta: dict[str, Any],
    ) -> None:
        self.school_id = school_id
        self.township_code = township_code
        self.meta = meta
        self.absences += 1
        if self.last_absent_day is None or day > self.last_absent_day:
            self.last_absent_day = day
            self.streak_days = [*self.streak_days, day] if consecutive_school_days > 1 else [day]

    @event("SuspectedDropoutDetected")
    def _suspected_dropout_detected(
        self,
        student_id: str,
        detection_id: str,
        absent_days: list[date],
        rule: str,
        rule_version: int,
        threshold_days: int,
        school_id: str,
        township_code: str,
        meta: dict[str, Any],
    ) -> None:
        self.meta = meta
        self.open_detection_id = detection_id
        self.detection_ids = [*self.detection_ids, detection_id]
