"""Absence rules per jurisdiction (configuration, versioned): each flag records the version that raised it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from services.attendance.domain.errors import InvalidInput

CONSECUTIVE_ABSENCE_RULE = "consecutive_unexcused_absence"
CHRONIC_ABSENCE_RULE = "chronic_absence"
TERM_START_RULE = "term_start_roll_check"


@dataclass(frozen=True)
class AbsenceRules:
    """The thresholds one jurisdiction applies; ``version`` 1 is the configured default."""

    consecutive_days: int = 2
    chronic_ratio: float = 0.10
    term_start_days: int = 3
    correction_window_days: int = 7
    long_leave_school_days: int = 10
    version: int = 1
    jurisdiction: str = ""

    def to_body(self) -> dict[str, Any]:
        body = asdict(self)
        body.pop("version")
        body.pop("jurisdiction")
        return body

    @classmethod
    def from_body(cls, body: dict[str, Any], version: int, jurisdiction: str) -> "AbsenceRules":
        """Validated rules; unknown keys and out-of-range values are refused by name."""
        allowed = set(cls().to_body())
        unknown = set(body) - allowed
        if unknown:
            raise InvalidInput(f"未知的规则参数：{sorted(unknown)} (unknown rule keys)", rule="rules_format")
        rules = cls(**{**cls().to_body(), **body}, version=version, jurisdiction=jurisdiction)
        checks = [
            (isinstance(rules.consecutive_days, int) and 1 <= rules.consecutive_days <= 60, "consecutive_days 须为 1-60"),
            (isinstance(rules.chronic_ratio, (int, float)) and 0 < rules.chronic_ratio <= 1, "chronic_ratio 须在 (0, 1]"),
            (isinstance(rules.term_start_days, int) and 1 <= rules.term_start_days <= 30, "term_start_days 须为 1-30"),
            (
                isinstance(rules.correction_window_days, int) and 0 <= rules.correction_window_days <= 90,
                "correction_window_days 须为 0-90",
            ),
            (
                isinstance(rules.long_leave_school_days, int) and 1 <= rules.long_leave_school_days <= 200,
                "long_leave_school_days 须为 1-200",
            ),
        ]
        for ok, message in checks:
            if not ok or isinstance(getattr(rules, "consecutive_days"), bool):
                raise InvalidInput(f"规则参数无效：{message} (invalid rule value)", rule="rules_format")
        return rules


def rules_for(code: str, configured: dict[str, "AbsenceRules"], default: AbsenceRules) -> AbsenceRules:
    """The rules of the most specific jurisdiction covering ``code`` (township, county, prefecture, province)."""
    best = default
    for prefix, rules in configured.items():
        if code.startswith(prefix) and len(prefix) > len(best.jurisdiction):
            best = rules
    return best
