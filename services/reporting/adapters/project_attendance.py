"""Attendance events into school days, absences, suspected dropouts (疑似辍学) and chronic-absence flags."""

from __future__ import annotations

from contracts.events import attendance as a
from services.reporting.adapters import guarded
from services.reporting.adapters.inbox import Event
from services.reporting.adapters.stores import Store


def school_day_closed(store: Store, e: Event) -> None:
    p: a.SchoolDayClosedV1 = e.payload  # type: ignore[assignment]
    guarded.write(store, "school_days", {"school_id": p.school_id, "day": p.day}, e, {}, dict(
        township_code=p.township_code, enrolled=p.enrolled, present=p.present, on_leave=p.on_leave, absent=p.absent,
    ), {"township_code": p.township_code})


def absence_recorded(store: Store, e: Event) -> None:
    p: a.AbsenceRecordedV1 = e.payload  # type: ignore[assignment]
    guarded.write(store, "absences", {"student_id": p.student_id, "day": p.day}, e, dict(
        school_id=p.school_id, consecutive_school_days=p.consecutive_school_days,
    ), {"status": "recorded", "reason": None}, {"township_code": p.township_code, "status": "recorded"})


def absence_retracted(store: Store, e: Event) -> None:
    p: a.AbsenceRetractedV1 = e.payload  # type: ignore[assignment]
    guarded.write(store, "absences", {"student_id": p.student_id, "day": p.day}, e, dict(school_id=p.school_id),
                  {"status": "retracted", "reason": p.reason}, {"township_code": p.township_code, "status": "retracted"})


def suspected_detected(store: Store, e: Event) -> None:
    p: a.SuspectedDropoutDetectedV1 = e.payload  # type: ignore[assignment]
    guarded.write(store, "suspected", {"detection_id": p.detection_id}, e, dict(
        student_id=p.student_id, school_id=p.school_id, first_absent_day=min(p.absent_days),
        last_absent_day=max(p.absent_days), absent_days=len(p.absent_days), rule=f"{p.rule}@v{p.rule_version}",
        threshold_days=p.threshold_days, detected_at=e.time,
    ), {"status": "open"}, {"township_code": p.township_code, "student_id": p.student_id, "status": "open"})


def attendance_resumed(store: Store, e: Event) -> None:
    p: a.AttendanceResumedV1 = e.payload  # type: ignore[assignment]
    guarded.write(store, "suspected", {"detection_id": p.detection_id}, e, dict(school_id=p.school_id), dict(
        status="resumed", resolved_day=p.day, resolution="到校复课",
    ), {"township_code": p.township_code, "student_id": p.student_id, "status": "resumed"})


def suspected_retracted(store: Store, e: Event) -> None:
    p: a.SuspectedDropoutRetractedV1 = e.payload  # type: ignore[assignment]
    guarded.write(store, "suspected", {"detection_id": p.detection_id}, e, dict(school_id=p.school_id), dict(
        status="retracted", resolved_day=p.corrected_day, resolution=p.reason,
    ), {"township_code": p.township_code, "student_id": p.student_id, "status": "retracted"})


def chronic_flagged(store: Store, e: Event) -> None:
    p: a.ChronicAbsenceFlaggedV1 = e.payload  # type: ignore[assignment]
    guarded.write(store, "chronic_absences", {"flag_id": p.flag_id}, e, dict(
        school_id=p.school_id, term_start=p.term_start, term_end=p.term_end, term_school_days=p.term_school_days,
        absent_days=len(p.absent_days), threshold_ratio=p.threshold_ratio, flagged_at=e.time,
    ), {"status": "open"}, {"township_code": p.township_code, "student_id": p.student_id, "status": "open"})


def chronic_retracted(store: Store, e: Event) -> None:
    """A withdrawn flag stops counting (status ``retracted``); what it was flagged with stays as evidence."""
    p: a.ChronicAbsenceRetractedV1 = e.payload  # type: ignore[assignment]
    guarded.write(store, "chronic_absences", {"flag_id": p.flag_id}, e, dict(
        school_id=p.school_id, term_start=p.term_start, term_end=p.term_end,
    ), dict(status="retracted", resolved_day=p.corrected_day, resolution=p.reason),
        {"township_code": p.township_code, "student_id": p.student_id, "status": "retracted"})


HANDLERS = {
    a.SchoolDayClosedV1: school_day_closed, a.AbsenceRecordedV1: absence_recorded,
    a.AbsenceRetractedV1: absence_retracted, a.SuspectedDropoutDetectedV1: suspected_detected,
    a.AttendanceResumedV1: attendance_resumed, a.SuspectedDropoutRetractedV1: suspected_retracted,
    a.ChronicAbsenceFlaggedV1: chronic_flagged, a.ChronicAbsenceRetractedV1: chronic_retracted,
}
