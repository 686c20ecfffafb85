"""Stored attendance events → public contracts (what the relay publishes); internal events map to None."""

from __future__ import annotations

from typing import Any

from contracts import Contract
from contracts.events.attendance import (
    AbsenceRecordedV1,
    AbsenceRetractedV1,
    AttendanceResumedV1,
    ChronicAbsenceFlaggedV1,
    ChronicAbsenceRetractedV1,
    SchoolDayClosedV1,
    SuspectedDropoutDetectedV1,
    SuspectedDropoutRetractedV1,
)
from services.attendance.domain.school_day import SchoolDay
from services.attendance.domain.student_attendance import StudentAttendance


# Stored events whose public contract carries fields of the same names (pydantic reads them as attributes).
SAME_FIELDS: dict[type, type[Contract]] = {
    StudentAttendance.AbsenceRecorded: AbsenceRecordedV1,
    StudentAttendance.SuspectedDropoutDetected: SuspectedDropoutDetectedV1,
    StudentAttendance.AttendanceResumed: AttendanceResumedV1,
    StudentAttendance.AbsenceRetracted: AbsenceRetractedV1,
    StudentAttendance.SuspectedDropoutRetracted: SuspectedDropoutRetractedV1,
    StudentAttendance.ChronicAbsenceFlagged: ChronicAbsenceFlaggedV1,
    StudentAttendance.ChronicAbsenceRetracted: ChronicAbsenceRetractedV1,
}


def to_contract(domain_event: Any) -> Contract | None:
    """Maps stored attendance events to their public contracts (Started, corrections and configuration are internal)."""
    e = domain_event
    if isinstance(e, SchoolDay.Closed):
        return SchoolDayClosedV1(
            school_id=e.school_id,
            day=e.day,
            township_code=e.township_code,
            enrolled=e.enrolled,
            present=e.present,
            on_leave=e.on_leave,
            absent=len(e.absent_student_ids),
        )
    contract = SAME_FIELDS.get(type(e))
    return contract.model_validate(e, from_attributes=True) if contract else None
