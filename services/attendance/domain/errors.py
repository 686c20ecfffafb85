"""Named attendance errors: each carries the rule it enforces and, from runtime.errors, its HTTP status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.runtime import errors


class AttendanceError(errors.DomainError):
    """An attendance rule was broken."""

    code = "attendance_rule"


class InvalidInput(AttendanceError, errors.InvalidInput):
    code = "invalid_input"


class DayInFuture(InvalidInput):
    code = "day_in_future"

    def __init__(self, day: date, today: date) -> None:
        super().__init__(f"日期 {day} 晚于今天 {today}，不能登记或关账 (date is in the future)", rule="day_not_in_future")


class DayNotSchoolDay(InvalidInput):
    code = "not_school_day"

    def __init__(self, day: date) -> None:
        super().__init__(f"{day} 不是上学日 (not a school day: weekend, holiday or outside term)", rule="school_day")


@dataclass(frozen=True)
class RowError:
    """Why one row of a check-in batch was refused."""

    index: int
    student_id: str
    reason: str
    code: str


class BatchRejected(InvalidInput):
    """A batch with any bad row is refused whole, so a client can fix and resend it."""

    code = "batch_rejected"

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"考勤批次有 {len(errors)} 行无效，整批未写入 (batch rejected, nothing written)", rule="batch_valid")
        self.errors = errors


@dataclass(frozen=True)
class LeaveRowError:
    """Why one item of a synced leave batch was refused: its index, its source record and the field at fault."""

    index: int
    external_id: str
    field: str
    code: str
    reason: str


class LeaveBatchRejected(BatchRejected):
    """A leave batch with any bad item is refused whole, naming each item and field; no leave is written."""

    def __init__(self, errors: list[LeaveRowError]) -> None:
        InvalidInput.__init__(
            self, f"请假批次有 {len(errors)} 处错误，整批未写入 (leave batch rejected, nothing written)", rule="batch_valid"
        )
        self.errors = errors  # type: ignore[assignment]


class NotFound(AttendanceError, errors.NotFound):
    code = "not_found"


class UnknownSchool(NotFound):
    code = "unknown_school"

    def __init__(self, school_id: str) -> None:
        super().__init__(f"学校 {school_id} 不在花名册中 (unknown school)", rule="school_on_roster")


class UnknownLeave(NotFound):
    code = "unknown_leave"

    def __init__(self, leave_id: str) -> None:
        super().__init__(f"请假单 {leave_id} 不存在 (unknown leave)", rule="leave_exists")


class Conflict(AttendanceError, errors.Conflict):
    code = "conflict"


class DayClosed(Conflict):
    code = "day_closed"

    def __init__(self, school_id: str, day: date) -> None:
        super().__init__(f"学校 {school_id} 的 {day} 考勤已关账，不再接收签到 (day already closed)", rule="day_open")


class DayNotClosed(Conflict):
    code = "day_not_closed"

    def __init__(self, school_id: str, day: date) -> None:
        super().__init__(f"学校 {school_id} 的 {day} 尚未关账，无需更正 (day not closed)", rule="day_closed_before_correction")


class CorrectionWindowClosed(Conflict):
    code = "correction_window_closed"

    def __init__(self, day: date, window_days: int) -> None:
        super().__init__(
            f"{day} 的考勤已超过 {window_days} 天更正期限，不能更正 (outside the correction window)",
            rule="correction_window",
        )


class NotAnAbsence(Conflict):
    code = "not_an_absence"

    def __init__(self, student_id: str, day: date) -> None:
        super().__init__(f"学生 {student_id} 在 {day} 未被记为缺勤，无可更正 (not recorded absent)", rule="correction_removes_absence")


class LeaveNotPending(Conflict):
    code = "leave_not_pending"

    def __init__(self, leave_id: str, status: str) -> None:
        super().__init__(f"请假单 {leave_id} 当前状态为 {status}，不能再审批 (leave is not pending)", rule="leave_pending")


@dataclass(frozen=True)
class CalendarRowError:
    """Why one row (CSV line, or JSON entry) of a calendar file was refused."""

    line: int | None
    field: str
    code: str
    reason: str


class CalendarFileRejected(InvalidInput):
    """A calendar file with any bad row is refused whole, naming every bad row; nothing is set."""

    code = "calendar_rejected"

    def __init__(self, errors: list[CalendarRowError]) -> None:
        super().__init__(f"校历文件有 {len(errors)} 处错误，未导入 (calendar file rejected, nothing set)", rule="calendar_format")
        self.errors = errors
