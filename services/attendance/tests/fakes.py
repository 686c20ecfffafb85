"""An in-memory attendance store: the same port as PostgreSQL, for fast application tests."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import Iterator

from services.attendance.ports import CheckinRow, RollEntry, RosterEntry, SchoolRow


class InMemoryAttendanceStore:
    """Roster and check-ins in dictionaries."""

    def __init__(self) -> None:
        self.schools_: dict[str, SchoolRow] = {}
        self.students: dict[str, RosterEntry] = {}
        self.checkins: dict[tuple[str, date, str], CheckinRow] = {}

    def add_school(self, school_id: str, township_code: str = "520102001") -> None:
        self.schools_[school_id] = SchoolRow(school_id, township_code[:6], township_code)

    def enrol(self, student_id: str, school_id: str, grade: int = 3, class_name: str = "3班") -> None:
        township = self.schools_[school_id].township_code
        self.students[student_id] = RosterEntry(student_id, school_id, township, grade, class_name, True)

    def school(self, school_id: str) -> SchoolRow | None:
        return self.schools_.get(school_id)

    def schools(self) -> list[SchoolRow]:
        return sorted(self.schools_.values(), key=lambda s: s.school_id)

    def roster(self, school_id: str) -> list[RosterEntry]:
        return [s for s in self.students.values() if s.school_id == school_id and s.active]

    def on_roster(self, school_id: str, student_ids: list[str]) -> set[str]:
        return {s.student_id for s in self.roster(school_id) if s.student_id in set(student_ids)}

    def insert_checkins(self, school_id: str, day: date, rows: list[CheckinRow]) -> int:
        new = 0
        for row in rows:
            if (school_id, day, row.student_id) not in self.checkins:
                self.checkins[(school_id, day, row.student_id)] = row
                new += 1
        return new

    def roll(self, school_id: str, day: date) -> list[RollEntry]:
        return [
            RollEntry(s.student_id, s.township_code, (school_id, day, s.student_id) in self.checkins)
            for s in sorted(self.roster(school_id), key=lambda s: s.student_id)
        ]

    @contextmanager
    def day_work(self, school_id: str, day: date, exclusive: bool) -> Iterator["InMemoryAttendanceStore"]:
        yield self
