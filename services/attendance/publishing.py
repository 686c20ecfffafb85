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
from services.attendance.domain import SchoolDay, StudentAttendance


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
    if isinstance(e, StudentAttendance.AbsenceRecorded):
        return AbsenceRecordedV1(
            student_id=e.student_id,
            school_id=e.school_id,
            township_code=e.township_code,
            day=e.day,
            consecutive_school_days=e.consecutive_school_days,
        )
    if isinstance(e, StudentAttendance.SuspectedDropoutDetected):
        return SuspectedDropoutDetectedV1(
            detection_id=e.detection_id,
            student_id=e.student_id,
            school_id=e.school_id,
            township_code=e.township_code,
            absent_days=list(e.absent_days),
            rule=e.rule,
            rule_version=e.rule_version,
            threshold_days=e.threshold_days,
        )
    if isinstance(e, StudentAttendance.AttendanceResumed):
        return AttendanceResumedV1(
            student_id=e.student_id, school_id=e.school_id, township_code=e.township_code, day=e.day, detection_id=e.detection_id
        )
    if isinstance(e, StudentAttendance.AbsenceRetracted):
        return AbsenceRetractedV1(
            student_id=e.student_id, school_id=e.school_id, township_code=e.township_code, day=e.day, reason=e.reason
        )
    if isinstance(e, StudentAttendance.SuspectedDropoutRetracted):
        return SuspectedDropoutRetractedV1(
            detection_id=e.detection_id,
            student_id=e.student_id,
            school_id=e.school_id,
            township_code=e.township_code,
            corrected_day=e.corrected_day,
            reason=e.reason,
        )
    if isinstance(e, StudentAttendance.ChronicAbsenceFlagged):
        return ChronicAbsenceFlaggedV1(
            flag_id=e.flag_id,
            student_id=e.student_id,
            school_id=e.school_id,
            township_code=e.township_code,
            term_start=e.term_start,
            term_end=e.term_end,
            term_school_days=e.term_school_days,
            absent_days=list(e.absent_days),
            rule=e.rule,
            rule_version=e.rule_version,
            threshold_ratio=e.threshold_ratio,
        )
    if isinstance(e, StudentAttendance.ChronicAbsenceRetracted):
        return ChronicAbsenceRetractedV1(
            flag_id=e.flag_id,
            student_id=e.student_id,
            school_id=e.school_id,
            township_code=e.township_code,
            term_start=e.term_start,
            term_end=e.term_end,
            corrected_day=e.corrected_day,
            absent_days=list(e.absent_days),
            threshold_days=e.threshold_days,
            reason=e.reason,
        )
    return None
