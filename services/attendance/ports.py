"""What the attendance use cases need from storage, as plain data and protocols (PostgreSQL or a fake)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import ContextManager, Protocol


@dataclass(frozen=True)
class SchoolRow:
    school_id: str
    county_code: str
    township_code: str


@dataclass(frozen=True)
class RosterEntry:
    student_id: str
    school_id: str
    township_code: str
    grade: int
    class_name: str
    active: bool


@dataclass(frozen=True)
class CheckinRow:
    student_id: str
    status: str
    checked_at: datetime | None
    device: str | None


@dataclass(frozen=True)
class RollEntry:
    """One active roster student on one day: whether a check-in exists."""

    student_id: str
    township_code: str
    checked_in: bool


class DayWork(Protocol):
    """Work on one school day while holding its lock (shared for check-ins, exclusive for closing)."""

    def insert_checkins(self, school_id: str, day: date, rows: list[CheckinRow]) -> int:
        """Inserts rows not already stored; returns how many were new."""
        ...

    def roll(self, school_id: str, day: date) -> list[RollEntry]: ...


class AttendanceStore(Protocol):
    """The roster read model and the check-in table."""

    def school(self, school_id: str) -> SchoolRow | None: ...

    def schools(self) -> list[SchoolRow]: ...

    def roster(self, school_id: str) -> list[RosterEntry]: ...

    def on_roster(self, school_id: str, student_ids: list[str]) -> set[str]:
        """The ids among ``student_ids`` that are active students of the school."""
        ...

    def day_work(self, school_id: str, day: date, exclusive: bool) -> ContextManager[DayWork]: ...


class LeaveSource(Protocol):
    """Approved leave (请假); a later issue keeps leave records. Students on leave are not absent."""

    def on_leave(self, school_id: str, day: date, student_ids: list[str]) -> set[str]: ...


class NoLeaveRecords:
    """Until leave is kept, nobody is on leave."""

    def on_leave(self, school_id: str, day: date, student_ids: list[str]) -> set[str]:
        return set()
