"""School calendars (校历): terms, weekends, holidays and make-up days, so every rule counts school days."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Iterable

from services.attendance.domain.errors import DayInFuture, DayNotSchoolDay, InvalidInput


@dataclass(frozen=True)
class Term:
    """A term (学期): school days only fall inside one when a calendar names terms."""

    name: str
    start: date
    end: date


@dataclass(frozen=True)
class SchoolCalendar:
    """School days are weekdays that are not holidays, plus make-up weekend days (调休上课), inside a term if any."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    makeup_days: frozenset[date] = field(default_factory=frozenset)
    terms: tuple[Term, ...] = ()
    version: int = 0

    @classmethod
    def of(
        cls,
        holidays: Iterable[date] | None = None,
        makeup_days: Iterable[date] | None = None,
        terms: Iterable[Term] = (),
        version: int = 0,
    ) -> "SchoolCalendar":
        return cls(frozenset(holidays or ()), frozenset(makeup_days or ()), tuple(sorted(terms, key=lambda t: t.start)), version)

    def term_of(self, day: date) -> Term | None:
        return next((t for t in self.terms if t.start <= day <= t.end), None)

    def is_school_day(self, day: date) -> bool:
        if self.terms and self.term_of(day) is None:
            return False
        if day in self.makeup_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def previous_school_day(self, day: date, horizon_days: int = 400) -> date | None:
        """The last school day before ``day`` (None if none within the horizon)."""
        for back in range(1, horizon_days + 1):
            candidate = day - timedelta(days=back)
            if self.is_school_day(candidate):
                return candidate
        return None

    def next_school_day(self, day: date, horizon_days: int = 400) -> date | None:
        """The first school day after ``day``."""
        for ahead in range(1, horizon_days + 1):
            candidate = day + timedelta(days=ahead)
            if self.is_school_day(candidate):
                return candidate
        return None

    def school_days(self, start: date, end: date) -> list[date]:
        """School days from start to end inclusive."""
        days = (start + timedelta(days=n) for n in range((end - start).days + 1))
        return [d for d in days if self.is_school_day(d)]

    def check_roll_day(self, day: date, today: date) -> None:
        """A roll can only be taken or closed for a school day that is not in the future."""
        if day > today:
            raise DayInFuture(day, today)
        if not self.is_school_day(day):
            raise DayNotSchoolDay(day)

    def to_body(self) -> dict[str, Any]:
        """The calendar as plain JSON data (stored in events and read models)."""
        return {
            "terms": [{"name": t.name, "start": t.start.isoformat(), "end": t.end.isoformat()} for t in self.terms],
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "makeup_days": sorted(d.isoformat() for d in self.makeup_days),
        }

    @classmethod
    def from_body(cls, body: dict[str, Any], version: int = 0) -> "SchoolCalendar":
        """Reads terms, holidays (dates or {start, end} ranges) and make-up days; refuses contradictions."""
        if not isinstance(body, dict):
            raise InvalidInput("校历须为 JSON 对象 (calendar must be an object)", rule="calendar_format")
        try:
            terms = [Term(str(t.get("name") or "学期"), _day(t["start"]), _day(t["end"])) for t in body.get("terms") or []]
            holidays = set(_days(body.get("holidays") or []))
            makeup = set(_days(body.get("makeup_days") or []))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"校历格式无效：{exc} (invalid calendar)", rule="calendar_format") from exc
        for term in terms:
            if term.end < term.start:
                raise InvalidInput(f"学期 {term.name} 结束早于开始 (term ends before it starts)", rule="calendar_format")
        ordered = sorted(terms, key=lambda t: t.start)
        if any(a.end >= b.start for a, b in zip(ordered, ordered[1:])):
            raise InvalidInput("学期日期重叠 (terms overlap)", rule="calendar_format")
        if holidays & makeup:
            raise InvalidInput("同一日期不能既是假日又是调休上课日 (holiday and make-up day)", rule="calendar_format")
        return cls.of(holidays, makeup, ordered, version)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _days(values: list[Any]) -> Iterable[date]:
    """Dates, or inclusive ranges given as {"start", "end"}."""
    for value in values:
        if isinstance(value, dict):
            start, end = _day(value["start"]), _day(value.get("end") or value["start"])
            if end < start or (end - start).days > 366:
                raise ValueError(f"日期范围无效 {start}..{end}")
            yield from (start + timedelta(days=n) for n in range((end - start).days + 1))
        else:
            yield _day(value)
