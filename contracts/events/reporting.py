"""Reporting public events: monthly reports (月报) through their workflow, reminders and overdue notices, and
published scorecards (考核). Units and figures only: no child, no person's name, no personal data."""

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from contracts import topics
from contracts.base import Contract
from contracts.events.common import Id, JurisdictionCode

Month = str
UnitLevel = Literal["province", "prefecture", "county", "township", "school", "area"]
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class MonthlyReportSealedV1(Contract):
    """A unit's monthly report was sealed: its figures as of the month's end, fixed by their content hash."""

    topic = topics.REPORTING
    report_id: Id
    code: JurisdictionCode = Field(description="The unit's division code (a school's: its township)")
    school_id: Id | None
    level: UnitLevel
    month: Month = Field(pattern=MONTH)
    content_hash: str = Field(min_length=64, max_length=64)
    due_on: date = Field(description="The day the unit must submit it by (月报告制度: the 5th by default)")
    sealed_at: datetime


class MonthlyReportSubmittedV1(Contract):
    """The unit submitted its report (上报); ``on_time`` says whether it was by the due day."""

    topic = topics.REPORTING
    report_id: Id
    code: JurisdictionCode
    school_id: Id | None
    level: UnitLevel
    month: Month = Field(pattern=MONTH)
    submitter_role: str
    on_time: bool
    submitted_at: datetime


class MonthlyReportApprovedV1(Contract):
    """The level above approved the unit's report (审核通过)."""

    topic = topics.REPORTING
    report_id: Id
    code: JurisdictionCode
    school_id: Id | None
    level: UnitLevel
    month: Month = Field(pattern=MONTH)
    approver_role: str
    approved_at: datetime


class MonthlyReportRestatedV1(Contract):
    """What the month says now differs from its last statement: a restatement with the changed figures' names."""

    topic = topics.REPORTING
    report_id: Id
    code: JurisdictionCode
    school_id: Id | None
    level: UnitLevel
    month: Month = Field(pattern=MONTH)
    number: int = Field(ge=1)
    content_hash: str = Field(min_length=64, max_length=64)
    changed: list[str]
    restated_at: datetime


class MonthlyReportDueV1(Contract):
    """A reminder: the unit's report is not submitted yet and is due on ``due_on``."""

    topic = topics.REPORTING
    report_id: Id
    code: JurisdictionCode
    school_id: Id | None
    level: UnitLevel
    month: Month = Field(pattern=MONTH)
    due_on: date
    recorded_at: datetime


class MonthlyReportOverdueV1(Contract):
    """The due day passed without a submission: the unit is late, and the level above (``parent_code``) is told."""

    topic = topics.REPORTING
    report_id: Id
    code: JurisdictionCode
    school_id: Id | None
    level: UnitLevel
    month: Month = Field(pattern=MONTH)
    due_on: date
    parent_code: JurisdictionCode
    recorded_at: datetime


class ScorecardPublishedV1(Contract):
    """A unit's scorecard for a period was published: its score and rank among the units of its level."""

    topic = topics.REPORTING
    scorecard_id: Id
    code: JurisdictionCode
    school_id: Id | None
    level: UnitLevel
    period: str = Field(pattern=r"^\d{4}-((0[1-9]|1[0-2])|spring|autumn)$", description="YYYY-MM or YYYY-spring|autumn")
    score: float = Field(ge=0, le=100)
    rank: int = Field(ge=1)
    ranked: int = Field(ge=1, description="How many units of the level were ranked")
    config_version: str
    published_at: datetime


# InspectionFindingRecordedV1 (督导检查 findings) belongs here too; it comes with the inspections aggregate.
