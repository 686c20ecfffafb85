"""Closing school days in batches (one save per chunk of schools) and correcting a closed day within its window."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.attendance.application.cases import UseCases
from services.attendance.application.ports import DayWork
from services.attendance.application.queries import DaySummary, closed_summary
from services.attendance.domain.calendar import SchoolCalendar
from services.attendance.domain.errors import DayNotClosed
from services.attendance.domain.rules import AbsenceRules
from services.attendance.domain.school_day import SchoolDay, check_correction_window, school_day_id
from services.attendance.domain.student_attendance import StudentAttendance, student_attendance_id
from services.attendance.domain.values import RollEntry, SchoolRow
from services.runtime.aggregates import load, require, save_with_retry


@dataclass
class _Pending:
    """What one school's close will save."""

    school: SchoolRow
    calendar: SchoolCalendar
    rules: AbsenceRules
    roll: list[RollEntry]
    absent: list[RollEntry]
    on_leave: set[str]
    not_returned: list[str]
    term_days: list[date]


@dataclass
class _Chunk:
    """A chunk's close, built under its day locks: the rolls to save, the records they changed, the schools found
    already closed, and the open locks (released only after the save, so no check-in slips in between)."""

    locks: ExitStack
    days: list[SchoolDay]
    changed: dict[Any, StudentAttendance]
    already: set[str]


class ClosingCases(UseCases):
    """Use cases of closing and correcting school days."""

    def close_day(self, school_id: str, day: date, meta: dict[str, Any]) -> DaySummary:
        """Closes one school's roll; closing again returns the first result."""
        school = self.queries.school(school_id)
        self.config.calendar_for(school).check_roll_day(day, self.clock.today())
        return self.close_days(day, [school], meta)[0]

    def close_days(self, day: date, schools: list[SchoolRow], meta: dict[str, Any]) -> list[DaySummary]:
        """Closes many schools' rolls, a chunk of schools per transaction (hundreds of events per save)."""
        summaries = []
        size = self.settings.close_chunk_schools
        for start in range(0, len(schools), size):
            summaries += self._close_chunk(day, schools[start : start + size], meta)
        return summaries

    def _close_chunk(self, day: date, schools: list[SchoolRow], meta: dict[str, Any]) -> list[DaySummary]:
        """Reads the rolls and builds the close under the day locks, saves before releasing them; a concurrent
        writer (a version conflict) makes it start again from the store."""
        ids = [s.school_id for s in schools]
        # Everything the close reads from the database while it holds the day locks goes through ``work``'s own
        # connection: configuration is resolved before, leave is read by ``work`` (see ``PgDayWork.on_leave``).
        rules = {s.school_id: (self.config.calendar_for(s), self.config.rules_for(s.township_code)) for s in schools}

        def attempt() -> _Chunk:
            locks = ExitStack()
            try:
                work = locks.enter_context(self.store.day_work(ids, day, exclusive=True))
                return self._build_chunk(locks, work, day, schools, rules, meta)
            except BaseException:
                locks.close()
                raise

        def save(chunk: _Chunk) -> None:
            with chunk.locks:
                if chunk.days:
                    self.events.save(*chunk.days, *chunk.changed.values())

        chunk = save_with_retry(attempt, save)
        existing = [load(self.events.repository, SchoolDay, school_day_id(s, day)) for s in ids if s in chunk.already]
        by_id = {d.school_id: closed_summary(d) for d in [*chunk.days, *existing] if d is not None}
        return [by_id[s] for s in ids if s in by_id]

    def _build_chunk(
        self,
        locks: ExitStack,
        work: DayWork,
        day: date,
        schools: list[SchoolRow],
        rules: dict[str, tuple[SchoolCalendar, AbsenceRules]],
        meta: dict[str, Any],
    ) -> _Chunk:
        ids = [s.school_id for s in schools]
        already = set(work.is_closed(ids, day))
        to_close = [s for s in schools if s.school_id not in already]
        rolls = work.rolls([s.school_id for s in to_close], day) if to_close else {}
        leave = work.on_leave_at([s.school_id for s in to_close], day) if to_close else {}
        pending = [
            self._pending(work, s, day, rolls[s.school_id], leave.get(s.school_id, set()), *rules[s.school_id])
            for s in to_close
        ]
        needed = {r.student_id for p in pending for r in p.absent} | {s for p in pending for s in p.not_returned}
        records = {
            a.student_id: a
            for a in self.events.load_many(StudentAttendance, [student_attendance_id(s) for s in needed]).values()
        }
        days: list[SchoolDay] = []
        changed: dict[Any, StudentAttendance] = {}
        for p in pending:
            days.append(self._close_one(p, day, meta, records, changed))
        return _Chunk(locks, days, changed, already)

    def _pending(
        self,
        work: DayWork,
        school: SchoolRow,
        day: date,
        roll: list[RollEntry],
        leave: set[str],
        calendar: SchoolCalendar,
        rules: AbsenceRules,
    ) -> _Pending:
        waiting = [r for r in roll if not r.checked_in]
        on_leave = {r.student_id for r in waiting if r.student_id in leave}
        absent = [r for r in waiting if r.student_id not in on_leave]
        not_returned: list[str] = []
        term_days: list[date] = []
        term = calendar.term_of(day)
        if term is not None:
            first_days = calendar.school_days(term.start, day)
            if len(first_days) == rules.term_start_days:  # today completes the term-start roll check (返校核查)
                term_days = first_days
                seen = work.seen_any(school.school_id, first_days)
                unseen = [r.student_id for r in roll if r.student_id not in seen]
                excused = set().union(*(work.on_leave(school.school_id, d, unseen) for d in first_days)) if unseen else set()
                not_returned = [s for s in unseen if s not in excused]
        return _Pending(school, calendar, rules, roll, absent, on_leave, not_returned, term_days)

    def _close_one(self, p: _Pending, day: date, meta: dict[str, Any], records: dict, changed: dict) -> SchoolDay:
        school_day = SchoolDay(
            school_id=p.school.school_id,
            day=day,
            township_code=p.school.township_code,
            enrolled=len(p.roll),
            present=len(p.roll) - len(p.absent) - len(p.on_leave),
            on_leave=len(p.on_leave),
            absent_student_ids=[r.student_id for r in p.absent],
            meta=meta,
        )
        previous = p.calendar.previous_school_day(day)
        term = p.calendar.term_of(day)
        term_school_days = len(p.calendar.school_days(term.start, term.end)) if term else 0
        township_of = {r.student_id: r.township_code for r in p.roll}
        for entry in p.absent:
            record = self._record_for(records, entry.student_id, p.school, entry.township_code, meta)
            recorded = record.record_absence(
                day,
                previous,
                p.rules.consecutive_days,
                meta,
                school_id=p.school.school_id,
                township_code=entry.township_code,
                rule_version=p.rules.version,
            )
            if term is not None and recorded:
                record.flag_chronic(term, term_school_days, p.rules, meta)
            if recorded or record.id in changed:
                changed[record.id] = record
        for student_id in p.not_returned:
            record = self._record_for(records, student_id, p.school, township_code_of(township_of, student_id, p.school), meta)
            if record.flag_not_returned(p.term_days, p.rules, meta):
                changed[record.id] = record
        return school_day

    def _record_for(self, records: dict, student_id: str, school: SchoolRow, township: str, meta: dict[str, Any]) -> StudentAttendance:
        record = records.get(student_id)
        if record is None:
            record = StudentAttendance(student_id=student_id, school_id=school.school_id, township_code=township, meta=meta)
            records[student_id] = record
        return record

    def correct_day(
        self, school_id: str, day: date, student_id: str, to_status: str, reason: str, meta: dict[str, Any]
    ) -> DaySummary:
        """Marks a recorded absence present or on leave within the window; retracts the absence and any flag it caused."""
        school = self.queries.school(school_id)
        rules = self.config.rules_for(school.township_code)
        check_correction_window(day, self.clock.today(), rules.correction_window_days)
        missing = lambda: DayNotClosed(school_id, day)  # noqa: E731

        def apply() -> tuple[SchoolDay, StudentAttendance | None]:
            school_day = require(self.events.repository, SchoolDay, school_day_id(school_id, day), missing)
            school_day.correct(student_id, to_status, reason, meta)
            record = self.queries.student_attendance(student_id)
            if record is not None:
                record.retract_absence(day, reason, rules, meta)
            return school_day, record

        school_day, _ = save_with_retry(apply, lambda changed: self.events.save(*changed))
        return closed_summary(school_day)


def township_code_of(township_of: dict[str, str], student_id: str, school: SchoolRow) -> str:
    return township_of.get(student_id, school.township_code)
