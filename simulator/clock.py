"""The shared simulated clock as the services read it (`BAOXUE_CLOCK_FILE`): the simulator writes the documented
format (simulator/README.md, "The clock file") and never imports the services' own clock."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")  # the platform's local time (BAOXUE_TIMEZONE's default)


def write_clock(path: Path, at: datetime) -> None:
    """Sets the simulated time for every process reading the file: one ISO 8601 timestamp, replaced atomically."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=CHINA)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(at.isoformat())
    tmp.replace(path)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    """A local (China) time on a day."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=CHINA)
