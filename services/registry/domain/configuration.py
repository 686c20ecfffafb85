"""Comparison thresholds per jurisdiction (configuration, versioned, kept as events). Pure.

A county (or prefecture, province, township) may set its own lost-transfer window, school-year start and
小升初 deadline; the most specific prefix covering a child's township wins, and the deployment's settings
are the default (version 1). Every change is an event with its actor, so who changed a threshold, and
when, is on record, and each finding records the rule version that produced it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain.comparisons import Rules
from services.registry.domain.errors import InvalidInput
from services.registry.domain.registration import NAMESPACE

PREFIX = re.compile(r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3})?)?)?$")
KEYS = ("transfer_lost_days", "school_year_start", "transition_deadline")


def rule_set_id(jurisdiction: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"comparison-rules:{jurisdiction}")


def _month_day(value: Any, what: str) -> tuple[int, int]:
    """'09-01' or (9, 1) → (9, 1), a day that exists every year (no 02-29)."""
    try:
        month, day = (int(x) for x in (value.split("-") if isinstance(value, str) else value))
        date(2001, month, day)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} 须为 MM-DD 格式的日期 (e.g. 09-01)", rule="rules_format") from exc
    return month, day


def rules_from_body(body: dict[str, Any], *, version: int, jurisdiction: str, default: Rules) -> Rules:
    """Validated rules: unset keys keep the default's values; unknown keys and bad values are refused."""
    unknown = set(body) - set(KEYS)
    if unknown:
        raise InvalidInput(f"未知的规则参数: {sorted(unknown)}", rule="rules_format")
    days = body.get("transfer_lost_days", default.transfer_lost_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise InvalidInput("transfer_lost_days 须为 1-365 的整数", rule="rules_format")
    start = _month_day(body.get("school_year_start", default.school_year_start), "school_year_start")
    deadline = body.get("transition_deadline", default.transition_deadline)
    return Rules(days, start, None if deadline is None else _month_day(deadline, "transition_deadline"),
                 version=version, jurisdiction=jurisdiction)


def rules_body(rules: Rules) -> dict[str, Any]:
    """The JSON form of a rule set (what is recorded and answered)."""
    return {
        "transfer_lost_days": rules.transfer_lost_days,
        "school_year_start": "{:02d}-{:02d}".format(*rules.school_year_start),
        "transition_deadline": None if rules.transition_deadline is None else "{:02d}-{:02d}".format(*rules.transition_deadline),
    }


@dataclass(frozen=True)
class RuleBook:
    """The default rules and every jurisdiction's own; `for_code` picks the most specific prefix."""

    default: Rules = field(default_factory=Rules)
    configured: dict[str, Rules] = field(default_factory=dict)

    def for_code(self, code: str) -> Rules:
        best = self.default
        for prefix, rules in self.configured.items():
            if code.startswith(prefix) and len(prefix) > len(best.jurisdiction):
                best = rules
        return best


class ComparisonRuleSet(Aggregate):
    """A jurisdiction's comparison thresholds; version 1 is the deployment default, so a first set is version 2."""

    @event("Set")
    def __init__(self, jurisdiction: str, body: dict[str, Any], meta: dict[str, Any], rules_version: int = 2):
        if not PREFIX.match(jurisdiction):
            raise InvalidInput("辖区代码须为2、4、6或9位数字", rule="jurisdiction_code")
        self.jurisdiction, self.body, self.meta, self.rules_version = jurisdiction, body, meta, rules_version

    @staticmethod
    def create_id(jurisdiction: str, **_: Any) -> uuid.UUID:
        return rule_set_id(jurisdiction)

    def change(self, *, body: dict[str, Any], meta: dict[str, Any]) -> bool:
        """A new version; False (nothing recorded) when the body is the same."""
        if body == self.body:
            return False
        self._changed(jurisdiction=self.jurisdiction, body=body, rules_version=self.rules_version + 1, meta=meta)
        return True

    @event("Changed")
    def _changed(self, jurisdiction: str, body: dict[str, Any], rules_version: int, meta: dict[str, Any]) -> None:
        self.body, self.rules_version, self.meta = body, rules_version, meta
