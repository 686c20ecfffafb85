"""Contracts as the registry and casework publish them, for notifications stories."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from contracts.events import CaseOpenedV1, StudentEnrolledV1

TOWNSHIP = "520102001"
NOW = datetime(2025, 9, 15, 8, 30, tzinfo=timezone.utc)


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
