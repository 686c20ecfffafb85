"""Attendance (考勤) public events."""

from datetime import date

from pydantic import Field

from contracts import topics
from contracts.base import Contract
from contracts.events.common import Id, JurisdictionCode


class SchoolDayClosedV1(Contract):
    """A school's day roll is closed: the counts it was closed with."""

    topic = topics.ATTENDANCE
    school_id: Id
    day: date
    township_code: JurisdictionCode
    enrolled: int = Field(ge=0)
    present: int = Field(ge=0)
    on_leave: int = Field(ge=0)
    absent: int = Field(ge=0)


class AbsenceRecordedV1(Contract):
    """A registered student was absent without leave on a school day."""

    topic = topics.ATTENDANCE
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    day: date
    consecutive_school_days: int = Field(ge=1)


class SuspectedDropoutDetectedV1(Contract):
    """Unexcused absence reached the rule's threshold of consecutive school days (疑似辍学)."""

    topic = topics.ATTENDANCE
    detection_id: Id
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    absent_days: list[date] = Field(min_length=1, description="Evidence: the school days absent")
    rule: str = Field(description="Rule name, e.g. consecutive_unexcused_absence")
    rule_version: int = Field(ge=1)
    threshold_days: int = Field(ge=1)
