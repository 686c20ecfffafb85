"""Leave use cases: a school records a request and approves or rejects it; approval corrects days already closed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from services.attendance.application.cases import UseCases
from services.attendance.domain.errors import CorrectionWindowClosed, InvalidInput, UnknownLeave
from services.attendance.domain.leave import Leave
from services.attendance.domain.school_day import SchoolDay, check_correction_window, school_day_id
from services.attendance.domain.student_attendance import StudentAttendance
from services.runtime.aggregates import require


@dataclass(frozen=True)
class LeaveResult:
    leave_id: str
    student_id: str
    school_id: str
    first_day: date
    last_day: date
    kind: str
    status: str
    school_days: int
    long_leave: bool
    corrected_days: list[date]


class LeaveCases(UseCases):
    """Use cases of leave (请假); the approval is shared with synced leave (``LeaveSyncCases``)."""

    def request_leave(
        self, school_id: str, student_id: str, first_day: date, last_day: date, kind: str, reason: str, meta: dict[str, Any]
    ) -> LeaveResult:
        """Records a request for a student on the school's roster; the school days it covers come from the calendar."""
        school = self.queries.school(school_id)
        if student_id not in self.store.on_roster(school_id, [student_id], first_day):
            raise InvalidInput(f"学生 {student_id} 不在该校花名册中 (student not on roster)", rule="student_on_roster")
        school_days = len(self.config.calendar_for(school).school_days(first_day, last_day)) if last_day >= first_day else 0
        leave = Leave.request(
            student_id, school_id, school.township_code, first_day, last_day, kind, reason, school_days, meta
        )
        self.events.save(leave)
        return self._leave_result(leave, [])

    def decide_leave(self, school_id: str, leave_id: str, approve: bool, note: str, meta: dict[str, Any]) -> LeaveResult:
        """Approves or rejects; approving corrects absences already recorded on closed days inside the window."""
        leave = self._leave(school_id, leave_id)
        if not approve:
            leave.reject(note, meta)
            self.events.save(leave)
            return self._leave_result(leave, [])
        record = self.queries.student_attendance(leave.student_id)
        school_days = self.events.load_many(SchoolDay, [school_day_id(leave.school_id, d) for d in self.correctable_days(leave, record)])
        corrected = self.approve(leave, note, meta, record, school_days)
        changed = [school_days[school_day_id(leave.school_id, d)] for d in corrected]
        self.events.save(leave, *changed, record if corrected else None)
        return self._leave_result(leave, corrected)

    def correctable_days(self, leave: Leave, record: StudentAttendance | None) -> list[date]:
        """The student's recorded absences that the leave covers, up to today and inside the correction window."""
        window = self.config.rules_for(leave.township_code).correction_window_days
        today = self.clock.today()
        days = []
        for day in sorted(d for d in (record.absent_days if record else []) if leave.first_day <= d <= min(leave.last_day, today)):
            try:
                check_correction_window(day, today, window)
            except CorrectionWindowClosed:
                continue
            days.append(day)
        return days

    def approve(
        self,
        leave: Leave,
        note: str,
        meta: dict[str, Any],
        record: StudentAttendance | None,
        school_days: dict[UUID, SchoolDay],
    ) -> list[date]:
        """Approves, and corrects each closed day (among ``school_days``, loaded by the caller) that counted the
        student absent inside the window; returns those days (the caller saves the changed aggregates)."""
        leave.approve(note, meta)
        rules = self.config.rules_for(leave.township_code)
        reason = f"请假已批准（{leave.id}）"
        corrected = []
        for day in self.correctable_days(leave, record):
            school_day = school_days.get(school_day_id(leave.school_id, day))
            if school_day is None or record is None or leave.student_id not in school_day.absent_student_ids:
                continue
            school_day.correct(leave.student_id, "on_leave", reason, meta)
            record.retract_absence(day, reason, rules, meta)
            corrected.append(day)
        return corrected

    def leave_of(self, school_id: str, leave_id: str) -> LeaveResult:
        return self._leave_result(self._leave(school_id, leave_id), [])

    def _leave(self, school_id: str, leave_id: str) -> Leave:
        try:
            aggregate_id = UUID(leave_id)
        except ValueError:
            raise UnknownLeave(leave_id) from None
        leave = require(self.events.repository, Leave, aggregate_id, lambda: UnknownLeave(leave_id))
        if leave.school_id != school_id:
            raise UnknownLeave(leave_id)
        return leave

    def _leave_result(self, leave: Leave, corrected: list[date]) -> LeaveResult:
        long_days = self.config.rules_for(leave.township_code).long_leave_school_days
        return LeaveResult(
            leave_id=str(leave.id),
            student_id=leave.student_id,
            school_id=leave.school_id,
            first_day=leave.first_day,
            last_day=leave.last_day,
            kind=leave.kind,
            status=leave.status,
            school_days=leave.school_days,
            long_leave=leave.school_days >= long_days,
            corrected_days=corrected,
        )

