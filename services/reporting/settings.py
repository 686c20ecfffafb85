"""Reporting settings (BAOXUE_ prefix)."""

from typing import Any

from pydantic import Field

from services.runtime.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    """Targets per jurisdiction prefix and the month-end schedule of monthly reports."""

    reporting_targets: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {"": {"dropout_rate_primary": 0.01, "dropout_rate_junior": 0.02, "return_rate": 1.0}},
        description="JSON: code prefix -> targets (dropout_rate_primary, dropout_rate_junior, return_rate); longest prefix wins",
    )
    reporting_root: str = Field("", description="Jurisdiction prefix whose monthly reports are sealed ('' = all)")
    reporting_seal_check_s: float = Field(60.0, gt=0, description="How often the scheduler looks for months to seal")
    reporting_due_day: int = Field(5, ge=1, le=28, description="Monthly reports are due by this day of the next month (月报告制度)")
    reporting_remind_days: int = Field(3, ge=0, le=27, description="Days before the due day from which a waiting unit is reminded once")
    scorecard_notice: dict[str, Any] = Field(
        default_factory=dict,
        description="JSON: what the 通报 lists of a scorecard ranking: bottom (3: the last units, ties included), "
                    "figures (units missing any of these targets; dropout_rate, return_rate, report_on_time), "
                    "vetoes (一票否决: units missing any of these; dropout_rate)")
    inspection_remind_days: tuple[int, ...] = Field(
        (7, 3, 1), description="JSON list: days before a rectification deadline on which the inspected unit is reminded")
