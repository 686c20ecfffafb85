"""Per-jurisdiction configuration kept as events, so who changed a calendar, a rule or a cut-off, and when, is on record."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import time
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.attendance.domain.school_day import NAMESPACE
from services.attendance.domain.errors import InvalidInput

CUTOFF_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def parse_cutoff(value: str) -> time:
    """``HH:MM`` (24-hour local time) as a time of day."""
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def calendar_id(county_code: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"county-calendar:{county_code}")


def rule_set_id(jurisdiction: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"rule-set:{jurisdiction}")


class CountyCalendar(Aggregate):
    """A county's school calendar (校历); each change is a new version."""

    @event("Set")
    def __init__(self, county_code: str, body: dict[str, Any], meta: dict[str, Any]):
        self.county_code = county_code
        self.body = body
        self.meta = meta
        self.calendar_version = 1

    @staticmethod
    def create_id(county_code: str, **_: Any) -> uuid.UUID:
        return calendar_id(county_code)

    @event("Changed")
    def change(self, body: dict[str, Any], meta: dict[str, Any]) -> None:
        self.body = body
        self.meta = meta
        self.calendar_version += 1


class RuleSet(Aggregate):
    """A jurisdiction's absence rules; version 1 is the configured default, so a first change is version 2."""

    @event("Set")
    def __init__(self, jurisdiction: str, body: dict[str, Any], meta: dict[str, Any]):
        self.jurisdiction = jurisdiction
        self.body = body
        self.meta = meta
        self.rules_version = 2

    @staticmethod
    def create_id(jurisdiction: str, **_: Any) -> uuid.UUID:
        return rule_set_id(jurisdiction)

    @event("Changed")
    def change(self, body: dict[str, Any], meta: dict[str, Any]) -> None:
        self.body = body
        self.meta = meta
        self.rules_version += 1


def day_close_id(county_code: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"county-day-close:{county_code}")


class CountyDayClose(Aggregate):
    """When a county's school days close (关账时间); version 1 is the configured default, so a first change is 2."""

    @event("Set")
    def __init__(self, county_code: str, body: dict[str, Any], meta: dict[str, Any]):
        self.county_code = county_code
        self.body = body
        self.meta = meta
        self.day_close_version = 2

    @staticmethod
    def create_id(county_code: str, **_: Any) -> uuid.UUID:
        return day_close_id(county_code)

    @event("Changed")
    def change(self, body: dict[str, Any], meta: dict[str, Any]) -> None:
        self.body = body
        self.meta = meta
        self.day_close_version += 1


@dataclass(frozen=True)
class DayCloseConfig:
    """A county's day cut-off (local ``HH:MM``) at a version; version 1 is ``BAOXUE_DAY_CLOSE_CUTOFF``."""

    county_code: str
    cutoff: str
    version: int = 1

    def cutoff_time(self) -> time:
        return parse_cutoff(self.cutoff)

    def to_body(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff}

    @classmethod
    def from_body(cls, body: dict[str, Any], version: int, county_code: str) -> DayCloseConfig:
        """Validated: only ``cutoff``, as 24-hour ``HH:MM``."""
        if not isinstance(body, dict) or set(body) != {"cutoff"}:
            raise InvalidInput("关账时间配置须为 {\"cutoff\": \"HH:MM\"} (day-close body)", rule="day_close_format")
        cutoff = body["cutoff"]
        if not isinstance(cutoff, str) or not re.fullmatch(CUTOFF_PATTERN, cutoff):
            raise InvalidInput(f"关账时间须为 24 小时制 HH:MM，收到 {cutoff!r} (invalid cut-off)", rule="day_close_format")
        return cls(county_code, cutoff, version)
