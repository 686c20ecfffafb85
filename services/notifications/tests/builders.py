"""Contracts as the registry, attendance and casework publish them, and directory entries, for stories."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from contracts.events import CaseOpenedV1, StudentEnrolledV1, SuspectedDropoutDetectedV1
from contracts.events.casework import (
    CaseDeadlinePassedV1,
    CaseEscalatedV1,
    CaseOwnersAssignedV1,
    OwnerChange,
)
from services.notifications.domain.directory import Recipient

TOWNSHIP = "520102001"
NOW = datetime(2025, 9, 15, 8, 30, tzinfo=UTC)


def enrolled(student_id: str, head_teacher_id: str | None = "teacher-li") -> StudentEnrolledV1:
    return StudentEnrolledV1(
        student_id=student_id, school_id=str(uuid.uuid4()), county_code=TOWNSHIP[:6], township_code=TOWNSHIP,
        grade=7, class_name="7(2)班", name_masked="张*丰", id_number_masked="520102********1234",
        head_teacher_id=head_teacher_id, head_teacher_name="李华" if head_teacher_id else None,
    )


def case_opened(student_id: str, case_id: str | None = None) -> CaseOpenedV1:
    return CaseOpenedV1(
        case_id=case_id or str(uuid.uuid4()), student_id=student_id, school_id=str(uuid.uuid4()),
        township_code=TOWNSHIP, source="attendance", trigger_id=str(uuid.uuid4()), opened_at=NOW,
    )


# -- attendance and casework triggers for officials and owners -----------------------------------------
COUNTY = TOWNSHIP[:6]
TOWNSHIP_WANG = Recipient("township_officer", TOWNSHIP, "twp-wang", "王建国", "13800000001")
COUNTY_ZHAO = Recipient("county_officer", COUNTY, "cty-zhao", "赵明", "13800000002")
JUSTICE_SUN = Recipient("justice_officer", TOWNSHIP, "sfs-sun", "孙立", None)


def suspected_dropout(student_id: str, detection_id: str | None = None) -> SuspectedDropoutDetectedV1:
    return SuspectedDropoutDetectedV1(
        detection_id=detection_id or str(uuid.uuid4()), student_id=student_id, school_id=str(uuid.uuid4()),
        township_code=TOWNSHIP, absent_days=[date(2025, 9, 11), date(2025, 9, 12)],
        rule="consecutive_unexcused_absence", rule_version=1, threshold_days=2,
    )


def owners_assigned(case_id: str, *owners: tuple[str, str, str | None]) -> CaseOwnersAssignedV1:
    """Owners as (slot, user id, previous user id)."""
    lines = {"township": "government", "village": "government", "group": "government"}
    return CaseOwnersAssignedV1(
        case_id=case_id, township_code=TOWNSHIP, automatic=True, assigned_at=NOW,
        owners=[OwnerChange(slot=s, line=lines.get(s, "education"), user_id=u, previous_user_id=p)  # type: ignore[arg-type]
                for s, u, p in owners],
    )


def deadline_passed(case_id: str, step: str = "return_notice", timer_id: str | None = None) -> CaseDeadlinePassedV1:
    return CaseDeadlinePassedV1(
        case_id=case_id, township_code=TOWNSHIP, timer_id=timer_id or str(uuid.uuid4()), kind="ladder",
        step=step, due_at=NOW, action="alert",  # type: ignore[arg-type]
    )


def escalated(case_id: str, student_id: str, step: str = "legal_documents") -> CaseEscalatedV1:
    return CaseEscalatedV1(
        case_id=case_id, student_id=student_id, township_code=TOWNSHIP, step=step,  # type: ignore[arg-type]
        issued_at=NOW, deadline_at=NOW + timedelta(days=15), overridden=False, automatic=False,
    )
