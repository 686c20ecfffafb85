"""Leave (请假): requested through the school, approved or rejected there, or synced already approved from the school's
attendance system (`leave_sync.py`); approved leave is never an absence."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.attendance.domain.school_day import NAMESPACE
from services.attendance.domain.errors import InvalidInput, LeaveNotPending

LEAVE_KINDS = ("sick", "personal", "family", "other")
MAX_LEAVE_DAYS = 366


class Leave(Aggregate):
    """One leave request for one student over an inclusive date range."""

    @event("Requested")
    def __init__(
        self,
        student_id: str,
        school_id: str,
        township_code: str,
        first_day: date,
        last_day: date,
        kind: str,
        reason: str,
        school_days: int,
        meta: dict[str, Any],
    ):
        self.student_id = student_id
        self.school_id = school_id
        self.township_code = township_code
        self.first_day = first_day
        self.last_day = last_day
        self.kind = kind
        self.reason = reason
        self.school_days = school_days
        self.status = "requested"
        self.meta = meta
        self.decided_by: str | None = None
        self.decision_note: str | None = None

    @classmethod
    def request(
        cls,
        student_id: str,
        school_id: str,
        township_code: str,
        first_day: date,
        last_day: date,
        kind: str,
        reason: str,
        school_days: int,
        meta: dict[str, Any],
        leave_id: uuid.UUID | None = None,
    ) -> "Leave":
        """A new request; the range and kind are checked before anything is recorded.

        ``leave_id``: a deterministic id (a leave synced from a school's own system, ``sync_leave_id``); else random.
        """
        check_request(first_day, last_day, kind)
        return cls._create(
            cls.Requested,
            id=leave_id,
            student_id=student_id,
            school_id=school_id,
            township_code=township_code,
            first_day=first_day,
            last_day=last_day,
            kind=kind,
            reason=reason,
            school_days=school_days,
            meta=meta,
        )

    def covers(self, day: date) -> bool:
        return self.status == "approved" and self.first_day <= day <= self.last_day

    def approve(self, note: str, meta: dict[str, Any]) -> None:
        self._require_pending()
        self._approved(note=note, meta=meta)

    def reject(self, note: str, meta: dict[str, Any]) -> None:
        self._require_pending()
        self._rejected(note=note, meta=meta)

    def _require_pending(self) -> None:
        if self.status != "requested":
            raise LeaveNotPending(str(self.id), self.status)

    @event("Approved")
    def _approved(self, note: str, meta: dict[str, Any]) -> None:
        self.status = "approved"
        self.decided_by = meta.get("actor_id")
        self.decision_note = note
        self.meta = meta

    @event("Rejected")
    def _rejected(self, note: str, meta: dict[str, Any]) -> None:
        self.status = "rejected"
        self.decided_by = meta.get("actor_id")
        self.decision_note = note
        self.meta = meta


def check_request(first_day: date, last_day: date, kind: str) -> None:
    """The range and kind of a leave, checked before anything is recorded (also per row of a synced batch)."""
    if last_day < first_day:
        raise InvalidInput("请假结束日期早于开始日期 (last_day before first_day)", rule="leave_range")
    if (last_day - first_day).days >= MAX_LEAVE_DAYS:
        raise InvalidInput("单次请假不能超过一年 (leave longer than a year)", rule="leave_range")
    if kind not in LEAVE_KINDS:
        raise InvalidInput(f"请假类型须为 {', '.join(LEAVE_KINDS)}", rule="leave_kind")


def new_leave_id() -> uuid.UUID:
    return uuid.uuid4()


def sync_leave_id(school_id: str, external_id: str) -> uuid.UUID:
    """One leave per record of a school's attendance system: a resent record finds the leave it created."""
    return uuid.uuid5(NAMESPACE, f"leave-sync:{school_id}:{external_id}")
