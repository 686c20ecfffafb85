"""What the attendance use cases need from storage (PostgreSQL in adapters/, a fake in tests), as protocols."""

from __future__ import annotations

from datetime import date
from typing import AbstractSet, Any, ContextManager, Protocol

from services.attendance.domain.values import CheckinColumns, LeaveView, RollEntry, RosterEntry, SchoolRow


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
