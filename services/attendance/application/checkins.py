"""Check-in use cases: a school's batch or a multi-school batch, validated whole and stored in one statement; a check-in
after a suspected dropout records 复学到校."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import AbstractSet, Any, Sequence
from zoneinfo import ZoneInfo

from services.attendance.application.cases import UseCases
from services.attendance.domain.errors import BatchRejected, DayClosed, InvalidInput, RowError
from services.attendance.domain.school_day import CHECKIN_STATUSES
from services.attendance.domain.values import CheckinColumns, CheckinRow, SchoolRow

ROW_PROBLEMS = {
    "unknown_student": "学生不在该校花名册中 (student not on this school's roster)",
    "invalid_status": "签到状态须为 present、late 或 left_early (invalid status)",
    "checked_at_day": "签到时间不在该日 (checked_at is not on this day)",
    "checked_at_future": "签到时间晚于当前时间 (checked_at is in the future)",
    "conflicting_duplicate": "同一学生在本批中出现多次且内容不同 (conflicting duplicate)",
    "unknown_school": "学校不在花名册中 (unknown school)",
}


@dataclass(frozen=True)
class CheckinResult:
    school_id: str | None
    day: date
    received: int
    accepted: int
    duplicates: int
    resumed: int = 0


@dataclass(frozen=True)
class SchoolCheckin:
    """One row of a multi-school batch."""

    school_id: str
    row: CheckinRow


class CheckinCases(UseCases):
    """Takes check-ins in bulk; the roll is read under each day's shared lock, so no check-in slips past a close."""

    def record_checkins(self, school_id: str, day: date, items: Sequence[CheckinRow], meta: dict[str, Any] | None = None) -> CheckinResult:
        """One school's batch: validated whole, stored in one statement; repeats count as duplicates."""
        self.queries.school(school_id)
        batch = CheckinColumns(
            [school_id] * len(items),
            [i.student_id for i in items],
            [i.status for i in items],
            [aware(i.checked_at, self.tz) for i in items],
            [i.device for i in items],
        )
        result = self.record_checkins_bulk(day, batch, meta)
        return CheckinResult(school_id, day, result.received, result.accepted, result.duplicates, result.resumed)

    def record_checkins_bulk(
        self,
        day: date,
        items: CheckinColumns | Sequence[SchoolCheckin],
        meta: dict[str, Any] | None = None,
        schools: dict[str, SchoolRow] | None = None,
    ) -> CheckinResult:
        """A batch for any schools (an attendance system covering many): all rows valid, or nothing written.

        ``schools``: the batch's schools when the caller already read them (to check the client's scope).
        """
        batch = items if isinstance(items, CheckinColumns) else columns_of(items, self.tz)
        limit = self.settings.max_checkin_batch
        if not 1 <= len(batch) <= limit:
            raise InvalidInput(f"每批签到须为 1 至 {limit} 条，收到 {len(batch)} 条 (batch size)", rule="batch_size")
        school_ids = sorted(set(batch.school_ids))
        if schools is None:
            schools = self.store.schools_by_id(school_ids)
        today = self.clock.today()
        for school in schools.values():
            self.config.calendar_for(school).check_roll_day(day, today)
        self.store.ensure_partition(day)
        with self.store.day_work(list(schools), day, exclusive=False) as work:
            closed = work.is_closed(list(schools), day)
            if closed:
                raise DayClosed(closed[0], day)
            valid = self._valid_rows(day, batch, schools, work.rosters(list(schools), day))
            accepted = work.insert_checkins(day, valid)
        resumed = self._resume(day, valid, schools, meta) if accepted else 0
        received = len(batch)
        return CheckinResult(school_ids[0] if len(school_ids) == 1 else None, day, received, accepted, received - accepted, resumed)

    def _resume(self, day: date, batch: CheckinColumns, schools: dict[str, SchoolRow], meta: dict[str, Any] | None) -> int:
        """A check-in after a suspected dropout records 复学到校 (AttendanceResumed) once for that detection."""
        open_ = self.store.open_detections(batch.student_ids)
        if not open_:
            return 0
        school_of = {s: sc for s, sc in zip(batch.student_ids, batch.school_ids) if s in open_}
        records = []
        for student_id in open_:
            record = self.queries.student_attendance(student_id)
            school = schools[school_of[student_id]]
            if record is not None and record.resume(day, school.school_id, school.township_code, meta or {}):
                records.append(record)
        if records:
            self.events.save(*records)
        return len(records)

    def _valid_rows(
        self, day: date, batch: CheckinColumns, schools: dict[str, SchoolRow], rosters: dict[str, AbstractSet[str]]
    ) -> CheckinColumns:
        """Every row checked before anything is written; identical repeats inside a batch collapse to one.

        Column-wise first (set lookups, each distinct timestamp judged once); only a batch with a bad row or a
        repeated student is walked row by row, to name every problem and collapse the repeats.
        """
        now = self.clock.now()
        tz = self.tz
        bad_times = {a for a in set(batch.checked_at) if a is not None and (local_date(a, tz) != day or a > now)}
        empty: frozenset[str] = frozenset()
        clean = (
            all(st in rosters.get(sc, empty) for sc, st in zip(batch.school_ids, batch.student_ids))
            and all(s in CHECKIN_STATUSES for s in batch.statuses)
            and (not bad_times or not any(a in bad_times for a in batch.checked_at))
            and len(set(batch.student_ids)) == len(batch)
        )
        if clean:
            return batch
        errors: list[RowError] = []
        seen: dict[str, tuple[int, tuple]] = {}
        for index, (school_id, student_id, status, at, device) in enumerate(batch.rows()):
            if school_id not in schools:
                problem: str | None = "unknown_school"
            elif student_id not in rosters.get(school_id, empty):
                problem = "unknown_student"
            elif status not in CHECKIN_STATUSES:
                problem = "invalid_status"
            elif at is not None and local_date(at, tz) != day:
                problem = "checked_at_day"
            elif at is not None and at > now:
                problem = "checked_at_future"
            elif student_id in seen and seen[student_id][1] != (school_id, status, at, device):
                problem = "conflicting_duplicate"
            else:
                seen.setdefault(student_id, (index, (school_id, status, at, device)))
                continue
            errors.append(RowError(index, student_id, ROW_PROBLEMS[problem], problem))
        if errors:
            raise BatchRejected(errors)
        return batch.take([index for index, _ in seen.values()])


def columns_of(items: Sequence[SchoolCheckin], tz: ZoneInfo) -> CheckinColumns:
    """Rows as columns."""
    return CheckinColumns(
        [i.school_id for i in items],
        [i.row.student_id for i in items],
        [i.row.status for i in items],
        [aware(i.row.checked_at, tz) for i in items],
        [i.row.device for i in items],
    )


def aware(at: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A naive timestamp from a school device is local time."""
    return at.replace(tzinfo=tz) if at is not None and at.tzinfo is None else at


def local_date(at: datetime, tz: ZoneInfo) -> date | None:
    """The local date of a timestamp, or None when it cannot be shown in local time (year 9999 and beyond)."""
    try:
        return at.astimezone(tz).date()
    except OverflowError:
        return None
