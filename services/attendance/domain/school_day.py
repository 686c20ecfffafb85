"""A school's day roll (SchoolDay): closed once, corrected within the window; the ids every attendance aggregate uses.

Pure: no I/O, no settings, no clock.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.attendance.domain.errors import CorrectionWindowClosed, InvalidInput, NotAnAbsence

NAMESPACE = uuid.UUID("0c7a4f55-3b8e-4d8a-9d43-4f1e7a2b6c10")
CHECKIN_STATUSES = ("present", "late", "left_early")
CORRECTION_STATUSES = ("present", "on_leave")

def check_correction_window(day: date, today: date, window_days: int) -> None:
    """A closed day may be corrected only within the configured number of calendar days."""
    if today - day > timedelta(days=window_days):
        raise CorrectionWindowClosed(day, window_days)


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
        self.corrections: list[dict[str, Any]] = []

    @staticmethod
    def create_id(school_id: str, day: date, **_: Any) -> uuid.UUID:
        return school_day_id(school_id, day)

    @property
    def absent(self) -> int:
        return len(self.absent_student_ids)

    def correct(self, student_id: str, to_status: str, reason: str, meta: dict[str, Any]) -> None:
        """Marks an absent student present or on leave after closing (更正), with who and why."""
        if to_status not in CORRECTION_STATUSES:
            raise InvalidInput("更正后的状态须为 present 或 on_leave", rule="correction_status")
        if not reason.strip():
            raise InvalidInput("更正须说明理由 (reason required)", rule="correction_reason")
        if student_id not in self.absent_student_ids:
            raise NotAnAbsence(student_id, self.day)
        self._corrected(student_id=student_id, from_status="absent", to_status=to_status, reason=reason, meta=meta)

    @event("Corrected")
    def _corrected(self, student_id: str, from_status: str, to_status: str, reason: str, meta: dict[str, Any]) -> None:
        self.absent_student_ids = [s for s in self.absent_student_ids if s != student_id]
        if to_status == "present":
            self.present += 1
        else:
            self.on_leave += 1
        self.corrections = [*self.corrections, {"student_id": student_id, "to": to_status, "reason": reason, "meta": meta}]
