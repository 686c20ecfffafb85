"""Leave synced in bulk from schools' own attendance systems (请假同步): each record is a leave requested and approved
there, recorded here with the same events as a request and an approval one at a time, all of a batch or none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, Sequence
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.attendance.application.app import AttendanceApp
from services.attendance.application.cases import UseCases
from services.attendance.application.configuration import Configuration
from services.attendance.application.leave_requests import LeaveCases
from services.attendance.application.ports import AttendanceStore
from services.attendance.application.queries import Queries
from services.attendance.domain.errors import InvalidInput, LeaveBatchRejected, LeaveRowError
from services.attendance.domain.leave import Leave, check_request, sync_leave_id
from services.attendance.domain.school_day import SchoolDay, school_day_id
from services.attendance.domain.student_attendance import StudentAttendance, student_attendance_id
from services.attendance.domain.values import SchoolRow
from services.attendance.settings import AttendanceSettings
from services.runtime.aggregates import save_with_retry
from services.runtime.clock import Clock
from services.runtime.validation import SafeId, SafeLine, SafeText

PROBLEMS = {
    "unknown_school": "学校不在花名册中 (unknown school)",
    "unknown_student": "学生在请假首日不在该校花名册中 (student not on the school's roster on first_day)",
    "leave_too_old": "请假开始日期早于允许同步的最早日期 {earliest} (first_day too far in the past)",
    "leave_too_far": "请假结束日期晚于允许同步的最晚日期 {latest} (last_day too far ahead)",
    "conflicting_duplicate": "同一请假记录在本批中出现多次且内容不同 (conflicting duplicate in the batch)",
    "external_id_conflict": "该请假记录已同步且内容不同，不会覆盖 (external_id already recorded with other content)",
}


NO_NUL = r"^[^\x00]*$"  # ids are PostgreSQL text, which cannot hold NUL


class LeaveSyncItem(BaseModel):
    """One leave already approved in a school's own attendance system (请假同步); no names, ids only."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    school_id: SafeId = Field(min_length=1, max_length=64, pattern=NO_NUL)
    student_id: SafeId = Field(min_length=1, max_length=64, pattern=NO_NUL)
    first_day: date
    last_day: date = Field(description="Inclusive; not before first_day")
    kind: Literal["sick", "personal", "family", "other"] = "personal"
    reason: SafeText = Field("", max_length=500)
    external_id: SafeId = Field(
        min_length=1, max_length=128, pattern=NO_NUL, description="The record's id in the source system: a resend of it is a duplicate"
    )
    approved_by: SafeLine | None = Field(
        None, min_length=1, max_length=64, description="Who approved it there: a staff id of the source system, not a name"
    )
    note: SafeText = Field("", max_length=500, description="The approval note (审批意见)")


@dataclass(frozen=True)
class LeaveCorrection:
    """The closed days one item's leave corrected (absent → on leave)."""

    index: int
    leave_id: str
    days: list[date]


@dataclass(frozen=True)
class LeaveBatchResult:
    received: int
    recorded: int
    duplicates: int
    leave_ids: list[str]
    corrected: list[LeaveCorrection]


class LeaveSyncCases(UseCases):
    """Use case of synced leave; approves as ``LeaveCases`` does (the same events as request + approve)."""

    def __init__(
        self,
        events: AttendanceApp,
        store: AttendanceStore,
        clock: Clock,
        settings: AttendanceSettings,
        config: Configuration,
        queries: Queries,
        leave: LeaveCases,
    ) -> None:
        super().__init__(events, store, clock, settings, config, queries)
        self.leave = leave

    def sync_leaves(
        self, items: Sequence[LeaveSyncItem], meta: dict[str, Any], schools: dict[str, SchoolRow] | None = None
    ) -> LeaveBatchResult:
        """Records each item as a leave requested and approved (closed days inside the window corrected), in one
        transaction; a resent item (same school and ``external_id``) is a duplicate. Any bad item refuses the batch.

        ``schools``: the batch's schools when the caller already read them (to check the client's scope).
        """
        limit = self.settings.max_leave_batch
        if not 1 <= len(items) <= limit:
            raise InvalidInput(f"每批请假须为 1 至 {limit} 条，收到 {len(items)} 条 (batch size)", rule="batch_size")
        if schools is None:
            schools = self.store.schools_by_id(sorted({i.school_id for i in items}))
        ids = [sync_leave_id(i.school_id, i.external_id) for i in items]
        errors = self._item_errors(items, ids, schools)
        if errors:
            raise LeaveBatchRejected(errors)
        _, result = save_with_retry(
            lambda: self._record_synced(items, ids, schools, meta), lambda built: self.events.save(*built[0])
        )
        return result

    def _item_errors(self, items: Sequence[LeaveSyncItem], ids: list[UUID], schools: dict[str, SchoolRow]) -> list[LeaveRowError]:
        """Every bad item named with its field; the roster of the whole batch is checked in one query."""
        today = self.clock.today()
        earliest = today - timedelta(days=self.settings.leave_sync_past_days)
        latest = today + timedelta(days=self.settings.leave_sync_future_days)
        errors: list[LeaveRowError] = []
        first_of: dict[UUID, int] = {}
        to_check: dict[int, tuple[str, str, date]] = {}
        for index, (item, leave_id) in enumerate(zip(items, ids)):
            try:
                check_request(item.first_day, item.last_day, item.kind)
            except InvalidInput as exc:
                field = "kind" if exc.rule == "leave_kind" else "last_day"
                errors.append(LeaveRowError(index, item.external_id, field, exc.rule or "leave_range", str(exc)))
                continue
            problem = placement_problem(item, schools, earliest, latest)
            if problem is None and leave_id in first_of and content(items[first_of[leave_id]]) != content(item):
                problem = ("external_id", "conflicting_duplicate")
            if problem is not None:
                field, code = problem
                reason = PROBLEMS[code].format(earliest=earliest, latest=latest)
                errors.append(LeaveRowError(index, item.external_id, field, code, reason))
                continue
            first_of.setdefault(leave_id, index)
            to_check[index] = (item.school_id, item.student_id, item.first_day)
        on_roster = self.store.on_rosters(list(set(to_check.values())))
        for index, wanted in to_check.items():
            if wanted not in on_roster:
                errors.append(LeaveRowError(index, items[index].external_id, "student_id", "unknown_student", PROBLEMS["unknown_student"]))
        return sorted(errors, key=lambda e: e.index)

    def _record_synced(
        self, items: Sequence[LeaveSyncItem], ids: list[UUID], schools: dict[str, SchoolRow], meta: dict[str, Any]
    ) -> tuple[list[Any], LeaveBatchResult]:
        """Load (leave already recorded, attendance records, closed days: one query each) and act; the caller saves
        the aggregates returned once."""
        existing = self.events.load_many(Leave, ids)
        conflicts = [
            LeaveRowError(index, item.external_id, "external_id", "external_id_conflict", PROBLEMS["external_id_conflict"])
            for index, (item, leave_id) in enumerate(zip(items, ids))
            if leave_id in existing and content(existing[leave_id]) != content(item)
        ]
        if conflicts:
            raise LeaveBatchRejected(conflicts)
        fresh: dict[UUID, int] = {}
        for index, leave_id in enumerate(ids):
            if leave_id not in existing:
                fresh.setdefault(leave_id, index)
        metas = {leave_id: item_meta(items[index], meta) for leave_id, index in fresh.items()}
        leaves = {leave_id: self._synced_leave(items[index], leave_id, schools, metas[leave_id]) for leave_id, index in fresh.items()}
        records = {
            r.student_id: r
            for r in self.events.load_many(StudentAttendance, [student_attendance_id(l.student_id) for l in leaves.values()]).values()
        }
        school_days = self.events.load_many(
            SchoolDay,
            [school_day_id(l.school_id, d) for l in leaves.values() for d in self.leave.correctable_days(l, records.get(l.student_id))],
        )
        corrected, changed = [], {}
        for leave_id, index in fresh.items():
            leave, item = leaves[leave_id], items[index]
            record = records.get(leave.student_id)
            days = self.leave.approve(leave, item.note, metas[leave_id], record, school_days)
            if days:
                corrected.append(LeaveCorrection(index, str(leave_id), days))
                changed.update({d.id: d for d in (school_days[school_day_id(leave.school_id, day)] for day in days)})
                changed[record.id] = record
        result = LeaveBatchResult(len(items), len(fresh), len(items) - len(fresh), [str(i) for i in ids], corrected)
        return [*leaves.values(), *changed.values()], result

    def _synced_leave(self, item: LeaveSyncItem, leave_id: UUID, schools: dict[str, SchoolRow], meta: dict[str, Any]) -> Leave:
        school = schools[item.school_id]
        school_days = len(self.config.calendar_for(school).school_days(item.first_day, item.last_day))
        return Leave.request(
            item.student_id,
            item.school_id,
            school.township_code,
            item.first_day,
            item.last_day,
            item.kind,
            item.reason,
            school_days,
            meta,
            leave_id=leave_id,
        )


def placement_problem(item: LeaveSyncItem, schools: dict[str, SchoolRow], earliest: date, latest: date) -> tuple[str, str] | None:
    """(field, code) when the item's school is unknown or its dates lie outside the sync window."""
    if item.school_id not in schools:
        return ("school_id", "unknown_school")
    if item.first_day < earliest:
        return ("first_day", "leave_too_old")
    if item.last_day > latest:
        return ("last_day", "leave_too_far")
    return None


def content(leave: Leave | LeaveSyncItem) -> tuple:
    """What makes two records of one ``external_id`` the same leave (a resend), not a changed one."""
    return (leave.school_id, leave.student_id, leave.first_day, leave.last_day, leave.kind, leave.reason)


def item_meta(item: LeaveSyncItem, meta: dict[str, Any]) -> dict[str, Any]:
    """The command's metadata plus the source record and, when sent, who approved it there (an id, no name)."""
    extra = {"external_id": item.external_id}
    if item.approved_by is not None:
        extra["approved_by"] = item.approved_by
    return {**meta, **extra}
