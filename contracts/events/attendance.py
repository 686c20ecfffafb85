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


class AttendanceResumedV1(Contract):
    """A child suspected of dropping out was seen again at school (复学到校)."""

    topic = topics.ATTENDANCE
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    day: date = Field(description="The first school day the child was seen again")
    detection_id: Id = Field(description="The SuspectedDropoutDetected this resolves")


class AbsenceRetractedV1(Contract):
    """A recorded absence was corrected away (the child was present or on approved leave): undo its effects."""

    topic = topics.ATTENDANCE
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    day: date
    reason: str = Field(min_length=1, max_length=500, description="Why the closed day was corrected")


class SuspectedDropoutRetractedV1(Contract):
    """A suspected dropout is withdrawn because its evidence was corrected away: close what it opened."""

    topic = topics.ATTENDANCE
    detection_id: Id
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    corrected_day: date = Field(description="The school day whose absence was retracted")
    reason: str = Field(min_length=1, max_length=500)


class ChronicAbsenceFlaggedV1(Contract):
    """Unexcused absences reached the rule's share of the term's school days (经常性缺勤)."""

    topic = topics.ATTENDANCE
    flag_id: Id
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    term_start: date
    term_end: date
    term_school_days: int = Field(ge=1)
    absent_days: list[date] = Field(min_length=1, description="Evidence: the term's school days absent")
    rule: str = Field(description="Rule name, e.g. chronic_absence")
    rule_version: int = Field(ge=1)
    threshold_ratio: float = Field(gt=0, le=1)


class ChronicAbsenceRetractedV1(Contract):
    """A chronic-absence flag is withdrawn: a correction brought the term's unexcused absences under its threshold."""

    topic = topics.ATTENDANCE
    flag_id: Id = Field(description="The ChronicAbsenceFlagged this withdraws")
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    term_start: date
    term_end: date
    corrected_day: date = Field(description="The school day whose absence was retracted")
    absent_days: list[date] = Field(description="The term's school days still absent after the correction")
    threshold_days: int = Field(ge=1, description="Absences the flag needed: ceil(threshold_ratio × term school days)")
    reason: str = Field(min_length=1, max_length=500)
