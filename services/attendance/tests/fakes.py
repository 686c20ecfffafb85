"""An in-memory attendance store: the same port as PostgreSQL, for fast application tests."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from typing import Any, Iterator

from services.attendance.domain.values import CheckinColumns, CheckinRow, LeaveView, RollEntry, RosterEntry, SchoolRow
from services.attendance.adapters.roster_history import SINCE_ALWAYS, Stint
from services.attendance.application.app import AttendanceApp
from services.attendance.application.service import Attendance
from services.attendance.settings import AttendanceSettings
from services.runtime.clock import Clock
from services.attendance.adapters.readmodel import ClosedDay, ConfigRow, DetectionClosed, DetectionOpened, LeaveRow


class InMemoryAttendanceStore:
    """Roster, check-ins and the event-kept rows in dictionaries."""

    def __init__(self) -> None:
        self.schools_: dict[str, SchoolRow] = {}
        self.students: dict[tuple[str, str, date], Stint] = {}  # (student, school, active_from) → the stint
        self.checkins: dict[tuple[str, date, str], CheckinRow] = {}
        self.closed: set[tuple[str, date]] = set()
        self.detections: dict[str, str] = {}
        self.leave_rows: dict[str, LeaveRow] = {}
        self.config: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}
        self.progress: dict[str, date] = {}
        self.failing_counties: set[str] = set()  # rolls of these counties raise (a county's outage)

    def add_school(self, school_id: str, township_code: str = "520102001") -> None:
        self.schools_[school_id] = SchoolRow(school_id, township_code[:6], township_code)

    def enrol(
        self,
        student_id: str,
        school_id: str,
        grade: int = 3,
        class_name: str = "3班",
        since: date = SINCE_ALWAYS,
        until: date | None = None,
        expected: bool = True,
    ) -> None:
        """A stint on the school's roster on [since, until) (the PostgreSQL consumer keeps these from registry)."""
        township = self.schools_[school_id].township_code
        self.students[(student_id, school_id, since)] = Stint(school_id, since, until, township, grade, class_name, expected)

    def leave_school(self, student_id: str, on: date, school_id: str | None = None) -> None:
        """The student's stints (at ``school_id`` or anywhere) open on ``on`` end then (``projections.end_stints``)."""
        for key, stint in list(self.students.items()):
            if key[0] == student_id and (school_id is None or stint.school_id == school_id) and stint.active_from < on and (
                stint.active_to is None or stint.active_to > on
            ):
                self.students[key] = replace(stint, active_to=on)

    def _roster_on(self, school_id: str, day: date) -> list[RosterEntry]:
        return [
            RosterEntry(student_id, school_id, s.township_code, s.grade, s.class_name, True, s.expected)
            for (student_id, _, _), s in self.students.items()
            if s.school_id == school_id and s.covers(day)
        ]

    def school(self, school_id: str) -> SchoolRow | None:
        return self.schools_.get(school_id)

    def schools(self, county_code: str | None = None) -> list[SchoolRow]:
        found = [s for s in self.schools_.values() if county_code is None or s.county_code == county_code]
        return sorted(found, key=lambda s: s.school_id)

    def schools_by_id(self, school_ids: list[str]) -> dict[str, SchoolRow]:
        return {s: self.schools_[s] for s in school_ids if s in self.schools_}

    def roster(self, school_id: str, on: date) -> list[RosterEntry]:
        return self._roster_on(school_id, on)

    def on_roster(self, school_id: str, student_ids: list[str], on: date) -> set[str]:
        return {s.student_id for s in self._roster_on(school_id, on) if s.student_id in set(student_ids)}

    def on_rosters(self, wanted: list[tuple[str, str, date]]) -> set[tuple[str, str, date]]:
        return {(school, student, day) for school, student, day in wanted if student in self.on_roster(school, [student], day)}

    def open_detections(self, student_ids: list[str]) -> dict[str, str]:
        return {s: self.detections[s] for s in student_ids if s in self.detections}

    def on_leave(self, school_id: str, day: date, student_ids: list[str]) -> set[str]:
        wanted = set(student_ids)
        return {
            r.student_id
            for r in self.leave_rows.values()
            if r.school_id == school_id and r.status == "approved" and r.first_day <= day <= r.last_day and r.student_id in wanted
        }

    def on_leave_at(self, school_ids: list[str], day: date) -> dict[str, set[str]]:
        return {s: {r.student_id for r in self.leave_rows.values() if r.school_id == s and r.status == "approved"
                    and r.first_day <= day <= r.last_day} for s in school_ids}

    def leaves(self, school_id: str, on: date | None = None, min_school_days: int = 0) -> list[LeaveView]:
        rows = [
            r
            for r in self.leave_rows.values()
            if r.school_id == school_id and r.school_days >= min_school_days and (on is None or r.first_day <= on <= r.last_day)
        ]
        return [
            LeaveView(r.leave_id, r.student_id, r.school_id, r.first_day, r.last_day, r.kind, r.status, r.school_days)
            for r in sorted(rows, key=lambda r: (r.first_day, r.student_id))
        ]

    def configuration(self, kind: str) -> dict[str, tuple[dict[str, Any], int]]:
        return {code: value for (k, code), value in self.config.items() if k == kind}

    def ensure_partition(self, day: date) -> None:
        pass

    def closed_on(self, school_ids: list[str], day: date) -> set[str]:
        return {s for s in school_ids if (s, day) in self.closed}

    def day_close_progress(self) -> dict[str, date]:
        return dict(self.progress)

    def advance_day_close(self, county_code: str, day: date, only_if_new: bool = False) -> None:
        if county_code in self.progress and only_if_new:
            return
        self.progress[county_code] = max(day, self.progress.get(county_code, day))

    def apply(self, changes: list[Any]) -> None:
        for change in changes:
            if isinstance(change, ClosedDay):
                self.closed.add((change.school_id, change.day))
            elif isinstance(change, DetectionOpened):
                self.detections[change.student_id] = change.detection_id
            elif isinstance(change, DetectionClosed):
                self.detections.pop(change.student_id, None)
            elif isinstance(change, LeaveRow):
                self.leave_rows[change.leave_id] = change
            elif isinstance(change, ConfigRow):
                self.config[(change.kind, change.code)] = (change.body, change.version)

    # -- DayWork -------------------------------------------------------------------------------
    def is_closed(self, school_ids: list[str], day: date) -> list[str]:
        return [s for s in school_ids if (s, day) in self.closed]

    def rosters(self, school_ids: list[str], day: date) -> dict[str, set[str]]:
        return {school_id: {s.student_id for s in self._roster_on(school_id, day)} for school_id in school_ids}

    def insert_checkins(self, day: date, batch: CheckinColumns) -> int:
        new = 0
        for school, student_id, status, at, device in batch.rows():
            if (school, day, student_id) not in self.checkins:
                self.checkins[(school, day, student_id)] = CheckinRow(student_id, status, at, device)
                new += 1
        return new

    def roll(self, school_id: str, day: date) -> list[RollEntry]:
        return [
            RollEntry(s.student_id, s.township_code, (school_id, day, s.student_id) in self.checkins)
            for s in sorted(self._roster_on(school_id, day), key=lambda s: s.student_id)
            if s.expected
        ]

    def rolls(self, school_ids: list[str], day: date) -> dict[str, list[RollEntry]]:
        broken = {self.schools_[s].county_code for s in school_ids} & self.failing_counties
        if broken:
            raise ConnectionError(f"county {sorted(broken)} unavailable")
        return {s: self.roll(s, day) for s in school_ids}

    def seen_any(self, school_id: str, days: list[date]) -> set[str]:
        return {sid for (school, day, sid) in self.checkins if school == school_id and day in days}

    @contextmanager
    def day_work(self, school_id: str | list[str], day: date, exclusive: bool) -> Iterator["InMemoryAttendanceStore"]:
        yield self


def in_memory_attendance(store: InMemoryAttendanceStore, clock: Clock, settings: AttendanceSettings) -> Attendance:
    """The use cases on eventsourcing's in-memory persistence, the event store applying its rows to ``store``."""
    event_store = AttendanceApp(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, read_model=store, snapshot_every=settings.snapshot_every
    )
    return Attendance(event_store, store, clock, settings)
