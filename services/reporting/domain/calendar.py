"""Business days are Chinese calendar days: the first instant of a day and the day of an instant, in China time."""

from __future__ import annotations

from datetime import date, datetime, time

from services.runtime.clock import CHINA


def start_of(day: date) -> datetime:
    """The first instant of a day in China (business dates are Chinese calendar days)."""
    return datetime.combine(day, time.min, CHINA)


def china_day(instant: datetime) -> date:
    """The calendar day (China) an instant falls on."""
    return instant.astimezone(CHINA).date()
