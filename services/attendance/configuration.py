"""Per-jurisdiction configuration kept as events, so who changed a calendar or a rule, and when, is on record."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.attendance.domain import NAMESPACE


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
