"""Attendance use cases: take check-ins in bulk, close school days, apply the absence rules, correct closed days."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import AbstractSet, Any, Iterable, Sequence
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from services.attendance.calendars import SchoolCalendar
from services.attendance.closing import ClosingCases
from services.attendance.configuration import CountyCalendar, CountyDayClose, DayCloseConfig, RuleSet
from services.attendance.domain import (
    CHECKIN_STATUSES,
    BatchRejected,
    DayClosed,
    InvalidInput,
    RowError,
    SchoolDay,
    StudentAttendance,
    UnknownSchool,
    school_day_id,
    student_attendance_id,
)
from services.attendance.leave import Leave
from services.attendance.leave_requests import LeaveCases
from services.attendance.leave_sync import LeaveSyncCases
from services.attendance.ports import AttendanceStore, CheckinColumns, CheckinRow, RosterEntry, SchoolRow
from services.attendance.publishing import to_contract  # noqa: F401  (the relay's mapping, imported from here)
from services.attendance.readmodel import (
    AttendanceRecorder,
    Change,
    ClosedDay,
    ConfigRow,
    DetectionClosed,
    DetectionOpened,
    LeaveRow,
)
from services.attendance.rules import AbsenceRules, rules_for
from services.attendance.settings import AttendanceSettings
from services.runtime.clock import Clock
from services.runtime.eventstore import ServiceApplication

CLOSE_ATTEMPTS = 3
ROW_PROBLEMS = {
    "unknown_student": "学生不在该校花名册中 (student not on this school's roster)",
    "invalid_status": "签到状态须为 present、late 或 left_early (invalid status)",
    "checked_at_day": "签到时间不在该日 (checked_at is not on this day)",
    "checked_at_future": "签到时间晚于当前时间 (checked_at is in the future)",
    "conflicting_duplicate": "同一学生在本批中出现多次且内容不同 (conflicting duplicate)",
    "unknown_school": "学校不在花名册中 (unknown school)",
}


@dataclass(frozen=True)
class Configuration:
    """What officers configured: calendars per county, rules per jurisdiction, cut-offs per county."""

    calendars: dict[str, SchoolCalendar]
    rules: dict[str, AbsenceRules]
    day_closes: dict[str, DayCloseConfig]


@dataclass(frozen=True)
class CheckinResult:
    school_id: str | None
    day: date
    received: int
    accepted: int
    duplicates: int
    resumed: int = 0


@dataclass(frozen=True)
class DaySummary:
    school_id: str
    day: date
    township_code: str
    status: str  # open | closed
    enrolled: int
    present: int
    on_leave: int
    absent: int
    absent_student_ids: list[str]
    closed_at: datetime | None = None
    closed_by: str | None = None
    corrections: int = 0


@dataclass(frozen=True)
class RosterView:
    school_id: str
    township_code: str
    count: int
    students: list[RosterEntry]


@dataclass(frozen=True)
class SchoolCheckin:
    """One row of a multi-school batch."""

    school_id: str
    row: CheckinRow


class AttendanceApp(ClosingCases, LeaveCases, LeaveSyncCases, ServiceApplication):
    """Attendance's event-sourced application (schema ``attendance``); needs ``attach`` before use."""

    name = "Attendance"
    env = {"PROCESS_RECORDER_TOPIC": "services.attendance.readmodel:AttendanceRecorder"}
    is_snapshotting_enabled = True  # the snapshot table (attendance_snapshots); what is snapshotted: ``attach``

    def attach(self, store: AttendanceStore, clock: Clock, settings: AttendanceSettings, leave: Any = None) -> "AttendanceApp":
        """Gives the application its read models, clock and rules (the event store comes from the constructor)."""
        self.store = store
        self.clock = clock
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.leave = leave or store
        self.calendar = SchoolCalendar.of(settings.holidays, settings.makeup_days)
        self.default_rules = AbsenceRules(
            consecutive_days=settings.absence_threshold_days,
            chronic_ratio=settings.chronic_absence_ratio,
            term_start_days=settings.term_start_days,
            correction_window_days=settings.correction_window_days,
            long_leave_school_days=settings.long_leave_school_days,
        )
        self._config: tuple[float, Configuration] | None = None
        # a student absent day after day gains an event a day; SchoolDay, Leave and the configuration stay short
        self.snapshot_intervals = {StudentAttendance: settings.snapshot_every} if settings.snapshot_every else {}
        return self

    # -- configuration -------------------------------------------------------------------------
    def _configuration(self) -> Configuration:
        """County calendars, rule sets and cut-offs, re-read at most every ``config_ttl_s`` (shared by API workers)."""
        now = time.monotonic()
        if self._config is None or now - self._config[0] > self.settings.config_ttl_s:
            store = self.store
            calendars = {c: SchoolCalendar.from_body(b, v) for c, (b, v) in store.configuration("calendar").items()}
            rules = {c: AbsenceRules.from_body(b, v, c) for c, (b, v) in store.configuration("rules").items()}
            closes = {c: DayCloseConfig.from_body(b, v, c) for c, (b, v) in store.configuration("day_close").items()}
            self._config = (now, Configuration(calendars, rules, closes))
        return self._config[1]

    def calendar_for(self, school: SchoolRow) -> SchoolCalendar:
        """The county's calendar if one was set, else the configured default."""
        return self._configuration().calendars.get(school.county_code, self.calendar)

    def rules_for(self, jurisdiction_code: str) -> AbsenceRules:
        """The rules of the most specific jurisdiction covering the code."""
        return rules_for(jurisdiction_code, self._configuration().rules, self.default_rules)

    def day_close_for(self, county_code: str) -> DayCloseConfig:
        """The county's cut-off if one was set, else ``BAOXUE_DAY_CLOSE_CUTOFF`` (version 1)."""
        found = self._configuration().day_closes.get(county_code)
        return found or DayCloseConfig(county_code, self.settings.day_close_cutoff, 1)

    def set_day_close(self, county_code: str, body: dict[str, Any], meta: dict[str, Any]) -> DayCloseConfig:
        """Sets a county's cut-off (a new version); the scheduler closes the county's days after it from then on."""
        existing = self._get(CountyDayClose, CountyDayClose.create_id(county_code))
        version = 2 if existing is None else existing.day_close_version + 1
        config = DayCloseConfig.from_body(body, version, county_code)
        if existing is None:
            existing = CountyDayClose(county_code=county_code, body=config.to_body(), meta=meta)
        else:
            existing.change(body=config.to_body(), meta=meta)
        self.save(existing)
        self._config = None
        return config

    def set_calendar(self, county_code: str, body: dict[str, Any], meta: dict[str, Any]) -> SchoolCalendar:
        """Sets a county's calendar (a new version each time); rules read it from the next request on."""
        calendar = SchoolCalendar.from_body(body)
        body = calendar.to_body()
        existing = self._get(CountyCalendar, CountyCalendar.create_id(county_code))
        if existing is None:
            existing = CountyCalendar(county_code=county_code, body=body, meta=meta)
        else:
            existing.change(body=body, meta=meta)
        self.save(existing)
        self._config = None
        return SchoolCalendar.from_body(body, existing.calendar_version)

    def set_rules(self, jurisdiction: str, body: dict[str, Any], meta: dict[str, Any]) -> AbsenceRules:
        """Sets a jurisdiction's rules; flags raised from now on record the new version."""
        existing = self._get(RuleSet, RuleSet.create_id(jurisdiction))
        version = 2 if existing is None else existing.rules_version + 1
        rules = AbsenceRules.from_body(body, version, jurisdiction)
        if existing is None:
            existing = RuleSet(jurisdiction=jurisdiction, body=rules.to_body(), meta=meta)
        else:
            existing.change(body=rules.to_body(), meta=meta)
        self.save(existing)
        self._config = None
        return rules

    # -- queries -------------------------------------------------------------------------------
    def school(self, school_id: str) -> SchoolRow:
        school = self.store.school(school_id)
        if school is None:
            raise UnknownSchool(school_id)
        return school

    def roster(self, school_id: str) -> RosterView:
        school = self.school(school_id)
        students = self.store.roster(school_id, self.clock.today())
        return RosterView(school.school_id, school.township_code, len(students), students)

    def day_summary(self, school_id: str, day: date) -> DaySummary:
        """The closed roll as recorded (with corrections), or the roll so far for an open day."""
        school = self.school(school_id)
        closed = self._get(SchoolDay, school_day_id(school_id, day))
        if closed is not None:
            return closed_summary(closed)
        with self.store.day_work(school_id, day, exclusive=False) as work:
            roll = work.roll(school_id, day)
        waiting = [r.student_id for r in roll if not r.checked_in]
        on_leave = self.leave.on_leave(school_id, day, waiting)
        absent = [s for s in waiting if s not in on_leave]
        return DaySummary(
            school_id=school_id,
            day=day,
            township_code=school.township_code,
            status="open",
            enrolled=len(roll),
            present=len(roll) - len(waiting),
            on_leave=len(on_leave),
            absent=len(absent),
            absent_student_ids=absent,
        )

    def student_attendance(self, student_id: str) -> StudentAttendance | None:
        return self._get(StudentAttendance, student_attendance_id(student_id))

    # -- check-ins -----------------------------------------------------------------------------
    def record_checkins(self, school_id: str, day: date, items: Sequence[CheckinRow], meta: dict[str, Any] | None = None) -> CheckinResult:
        """One school's batch: validated whole, stored in one statement; repeats count as duplicates."""
        self.school(school_id)
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
            self.calendar_for(school).check_roll_day(day, today)
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
            record = self.student_attendance(student_id)
            school = schools[school_of[student_id]]
            if record is not None and record.resume(day, school.school_id, school.township_code, meta or {}):
                records.append(record)
        if records:
            self.save(*records)
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

    # -- helpers -------------------------------------------------------------------------------
    def _get(self, cls: type, aggregate_id: UUID) -> Any:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def load_many(self, cls: type, aggregate_ids: Iterable[UUID]) -> dict[UUID, Any]:
        """Aggregates by id in one query on PostgreSQL (closing thousands of absences must not read one by one), each
        from its latest snapshot and the events after it (see ``BatchRepository.get_many``)."""
        found = self.repository.get_many(aggregate_ids)  # type: ignore[attr-defined]
        return {i: a for i, a in found.items() if isinstance(a, cls)}

    def _record(self, processing_event: Any) -> Any:
        """Saves events with the read-model rows they imply, in one transaction on PostgreSQL."""
        changes = [c for e in processing_event.events for c in read_model_changes(e, processing_event.aggregates)]
        on_postgres = isinstance(self.recorder, AttendanceRecorder)
        if changes and on_postgres:
            processing_event.saved_kwargs["read_model"] = changes
        recordings = super()._record(processing_event)
        if changes and not on_postgres:
            self.store.apply(changes)
        return recordings

    def save_with_retry(self, build: Any, attempts: int = CLOSE_ATTEMPTS) -> Any:
        """Runs ``build`` (load, act, save) again when a concurrent writer got there first."""
        for attempt in range(attempts):
            try:
                return build()
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")


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


def read_model_changes(event: Any, aggregates: dict[Any, Any]) -> list[Change]:
    """The read-model rows one stored event implies."""
    aggregate = aggregates.get(event.originator_id)
    if isinstance(event, SchoolDay.Closed):
        return [ClosedDay(event.school_id, event.day)]
    if isinstance(event, StudentAttendance.SuspectedDropoutDetected):
        return [DetectionOpened(event.student_id, event.detection_id, event.school_id, event.township_code)]
    if isinstance(event, (StudentAttendance.AttendanceResumed, StudentAttendance.SuspectedDropoutRetracted)):
        return [DetectionClosed(event.student_id)]
    if isinstance(aggregate, Leave):
        a = aggregate
        return [
            LeaveRow(str(a.id), a.student_id, a.school_id, a.township_code, a.first_day, a.last_day, a.kind, a.status, a.school_days)
        ]
    if isinstance(aggregate, CountyCalendar):
        return [ConfigRow("calendar", aggregate.county_code, aggregate.body, aggregate.calendar_version)]
    if isinstance(aggregate, RuleSet):
        return [ConfigRow("rules", aggregate.jurisdiction, aggregate.body, aggregate.rules_version)]
    if isinstance(aggregate, CountyDayClose):
        return [ConfigRow("day_close", aggregate.county_code, aggregate.body, aggregate.day_close_version)]
    return []


def closed_summary(school_day: SchoolDay) -> DaySummary:
    """The roll as it was closed and corrected; the time is the business time of the close (the injected clock)."""
    meta = school_day.meta or {}
    closed_at = datetime.fromisoformat(meta["at"]) if meta.get("at") else school_day.created_on
    return DaySummary(
        school_id=school_day.school_id,
        day=school_day.day,
        township_code=school_day.township_code,
        status="closed",
        enrolled=school_day.enrolled,
        present=school_day.present,
        on_leave=school_day.on_leave,
        absent=school_day.absent,
        absent_student_ids=list(school_day.absent_student_ids),
        closed_at=closed_at,
        closed_by=meta.get("actor_id"),
        corrections=len(getattr(school_day, "corrections", []) or []),
    )
