"""The configurable rules of a case (deadlines, follow-up, approval), kept apart from settings so the
domain and tests can use them without reading the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class CasePolicy:
    """Deadline lengths, what a missed deadline does, follow-up length, where 销号 needs county approval."""

    deadline_days: dict[str, int] = field(
        default_factory=lambda: {"return_notice": 7, "correction_order": 15, "legal_documents": 30}
    )
    on_missed: dict[str, str] = field(
        default_factory=lambda: {"return_notice": "alert", "correction_order": "alert", "legal_documents": "alert"}
    )
    follow_up_days: int = 30
    reminder_days: tuple[int, ...] = (3, 1)  # owners are reminded this many days before a deadline (ladder, follow-up)
    closure_approval_prefixes: tuple[str, ...] = ()
    timezone: str = "Asia/Shanghai"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def end_of_day(self, day: date) -> datetime:
        """A deadline written as a date lasts through that day (local time)."""
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)

    def default_deadline(self, step: str, issued_at: datetime) -> date | None:
        days = self.deadline_days.get(step)
        return None if days is None else issued_at.astimezone(self.tz).date() + timedelta(days=days)

    def approval_required(self, township_code: str) -> bool:
        return any(township_code.startswith(p) for p in self.closure_approval_prefixes)
