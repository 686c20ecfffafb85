"""Value objects the use cases and the read models exchange: schools, roster entries, check-ins, rolls, leave rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterator


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
