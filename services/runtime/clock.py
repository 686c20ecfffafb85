"""Injectable clocks: every time-based rule reads one, so a term can be simulated in minutes."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    """The wall clock, in UTC; 'today' is the date in the configured time zone."""

    def __init__(self, tz: ZoneInfo = CHINA) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()


class FixedClock:
    """A clock that only moves when told to (tests and simulations in one process)."""

    def __init__(self, at: datetime, tz: ZoneInfo = CHINA) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=tz)
        self.tz = tz

    def now(self) -> datetime:
        return self._at

    def today(self) -> date:
        return self._at.astimezone(self.tz).date()

    def set(self, at: datetime) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=self.tz)

    def advance(self, **delta: float) -> None:
        self._at += timedelta(**delta)


class FileClock:
    """A clock shared by several processes: the simulated time is the ISO timestamp in a file.

    Between writes it runs on with the wall clock, so processes see time pass normally.
    """

    def __init__(self, path: Path, tz: ZoneInfo = CHINA) -> None:
        self.path = path
        self.tz = tz
        self._cache: tuple[float, datetime, datetime] | None = None

    def now(self) -> datetime:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return datetime.now(timezone.utc)
        if self._cache is None or self._cache[0] != mtime:
            at = datetime.fromisoformat(self.path.read_text().strip())
            if at.tzinfo is None:
                at = at.replace(tzinfo=self.tz)
            self._cache = (mtime, at, datetime.now(timezone.utc))
        _, at, read_at = self._cache
        return at + (datetime.now(timezone.utc) - read_at)

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()

    @staticmethod
    def write(path: Path, at: datetime) -> None:
        """Sets the simulated time for every process reading this file."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(at.isoformat())
        tmp.replace(path)


def clock_from_settings(clock_file: Path | None, tz_name: str) -> Clock:
    """The clock a process should use, by its settings."""
    tz = ZoneInfo(tz_name)
    return FileClock(clock_file, tz) if clock_file else SystemClock(tz)
