"""What the attendance use cases need from storage, as plain data and protocols (PostgreSQL or a fake)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import AbstractSet, Any, ContextManager, Iterator, Protocol


@dataclass(frozen=True)
class SchoolRow:
    school_id: str
    county_code: str
    township_code: str


@dataclass(frozen=True)
class RosterEntry:
    """A student on a school's roster on a day; ``expected``: expected at the gate (false for 送教上门)."""

    student_id: str
    school_id: str
    township_code: str
    grade: int | None
    class_name: str | None
    active: bool
    expected: bool = True


@dataclass(frozen=True)
class CheckinRow:
    student_id: str
    status: str
    checked_at: datetime | None
    device: str | None


@dataclass(frozen=True)
class CheckinColumns:
    """A batch of check-ins as columns (row i is the i-th of each list): no object per row at 50,000 rows/s."""

    school_ids: list[str]
    student_ids: list[str]
    statuses: list[str]
    checked_at: list[datetime | None]
    devices: list[str | None]

    def __len__(self) -> int:
        return len(self.student_ids)

    def rows(self) -> Iterator[tuple[str, str, str, datetime | None, str | None]]:
        """(school_id, student_id, status, checked_at, device) per row."""
        return zip(self.school_ids, self.student_ids, self.statuses, self.checked_at, self.devices)

    def take(self, indexes: list[int]) -> "CheckinColumns":
        """The rows at ``indexes``, in that order."""
        return CheckinColumns(
            [self.school_ids[i] for i in indexes],
            [self.student_ids[i] for i in indexes],
            [self.statuses[i] for i in indexes],
            [self.checked_at[i] for i in indexes],
            [self.devices[i] for i in indexes],
        )


@dataclass(frozen=True)
class RollEntry:
    """One student expected at school on one day (the roster valid that day): whether a check-in exists."""

    student_id: str
    township_code: str
    checked_in: bool


@dataclass(frozen=True)
class LeaveView:
    leave_id: str
    student_id: str
    school_id: str
    first_day: date
    last_day: date
    kind: str
    status: str
    school_days: int


class DayWork(Protocol):
    """Work on school days while holding their locks (shared for check-ins, exclusive for closing)."""

    def is_closed(self, school_ids: list[str], day: date) -> list[str]: ...

    def rosters(self, school_ids: list[str], day: date) -> dict[str, AbstractSet[str]]:
        """The student ids on each school's roster on ``day`` (PostgreSQL: cached per school and day until the
        school's roster changes)."""
        ...

    def insert_checkins(self, day: date, batch: CheckinColumns) -> int:
        """Inserts rows not already stored; returns how many were new."""
        ...

    def roll(self, school_id: str, day: date) -> list[RollEntry]: ...

    def rolls(self, school_ids: list[str], day: date) -> dict[str, list[RollEntry]]: ...

    def seen_any(self, school_id: str, days: list[date]) -> set[str]: ...

    def on_leave(self, school_id: str, day: date, student_ids: list[str]) -> set[str]:
        """``AttendanceStore.on_leave`` read on the lock's own connection."""
        ...

    def on_leave_at(self, school_ids: list[str], day: date) -> dict[str, set[str]]:
        """``AttendanceStore.on_leave_at`` read on the lock's own connection."""
        ...


class AttendanceStore(Protocol):
    """The roster read model, the check-in table, and the rows kept with the event store."""

    def school(self, school_id: str) -> SchoolRow | None: ...

    def schools(self, county_code: str | None = None) -> list[SchoolRow]: ...

    def schools_by_id(self, school_ids: list[str]) -> dict[str, SchoolRow]: ...

    def roster(self, school_id: str, on: date) -> list[RosterEntry]:
        """The school's roster valid on ``on``."""
        ...

    def on_roster(self, school_id: str, student_ids: list[str], on: date) -> set[str]:
        """The ids among ``student_ids`` on the school's roster on ``on``."""
        ...

    def on_rosters(self, wanted: list[tuple[str, str, date]]) -> set[tuple[str, str, date]]:
        """The (school_id, student_id, day) among ``wanted`` whose student is on that school's roster that day
        (one query for a whole batch)."""
        ...

    def open_detections(self, student_ids: list[str]) -> dict[str, str]: ...

    def on_leave(self, school_id: str, day: date, student_ids: list[str]) -> set[str]: ...

    def on_leave_at(self, school_ids: list[str], day: date) -> dict[str, set[str]]:
        """Students with approved leave covering ``day``, per school (one query for a chunk of schools)."""
        ...

    def leaves(self, school_id: str, on: date | None = None, min_school_days: int = 0) -> list[LeaveView]: ...

    def configuration(self, kind: str) -> dict[str, tuple[dict[str, Any], int]]: ...

    def ensure_partition(self, day: date) -> None: ...

    def closed_on(self, school_ids: list[str], day: date) -> set[str]:
        """The schools among ``school_ids`` whose roll for ``day`` is closed (no lock: the scheduler's look-ahead)."""
        ...

    def day_close_progress(self) -> dict[str, date]:
        """Per county, the last day the scheduler closed completely."""
        ...

    def advance_day_close(self, county_code: str, day: date, only_if_new: bool = False) -> None:
        """Moves a county's progress forward to ``day`` (never back); ``only_if_new``: only when none is recorded."""
        ...

    def apply(self, changes: list[Any]) -> None:
        """Applies read-model changes (in-memory stores only; PostgreSQL writes them with the events)."""
        ...

    def day_work(self, school_id: str | list[str], day: date, exclusive: bool) -> ContextManager[DayWork]: ...
