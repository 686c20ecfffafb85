"""Reporting's inspection events (督导检查), published by the inspection store's own relay on
``baoxue.inspections.v1``: an inspection planned, a finding recorded against a unit, rectification ordered with a
deadline, reported, accepted or rejected, a deadline coming near, and an overdue finding escalated to the level
above. Codes, hashes, roles and dates only: nothing personal (the inspection's free-text title stays internal).

The three contracts of the same names declared on reporting's topic before were never published
(``inspections_retired.py``); these are the first published versions, under the ``cn.baoxue.inspections`` types."""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from contracts import topics
from contracts.base import Contract
from contracts.events.common import Id, JurisdictionCode

Severity = Literal["general", "serious", "grave"]


class _Finding(BaseModel):
    """Fields every finding event carries (a mixin, not a contract): which inspection, finding, unit, and what."""

    inspection_id: Id
    finding_id: str = Field(min_length=1, max_length=120)
    inspection_code: JurisdictionCode = Field(description="The jurisdiction the inspection covers")
    unit_code: JurisdictionCode = Field(description="The unit found at fault (a school's: its township)")
    school_id: Id | None
    description_code: str = Field(max_length=32, description="What was found (services/reporting README)")


class InspectionPlannedV1(Contract):
    """A supervision inspection of a jurisdiction was planned (its title is free text and stays internal)."""

    topic = topics.INSPECTIONS
    inspection_id: Id
    inspection_code: JurisdictionCode
    planned_on: date
    planner_role: str = Field(max_length=40)
    planned_at: datetime


class InspectionFindingRecordedV1(_Finding, Contract):
    """An inspection recorded a finding against a unit, with the hashes of its evidence."""

    topic = topics.INSPECTIONS

    severity: Severity
    evidence_sha256: list[str] = Field(description="SHA-256 of each piece of evidence, kept by the inspectors")
    recorder_role: str = Field(max_length=40)
    recorded_at: datetime


class InspectionRectificationOrderedV1(_Finding, Contract):
    """The inspecting level ordered the unit to rectify the finding by a deadline (下达整改通知)."""

    topic = topics.INSPECTIONS

    deadline: date
    orderer_role: str = Field(max_length=40)
    ordered_at: datetime


class InspectionRectificationDueV1(_Finding, Contract):
    """A rectification deadline comes near while the unit has not reported (a reminder to the unit)."""

    topic = topics.INSPECTIONS

    deadline: date
    days_left: int = Field(ge=0)
    recorded_at: datetime


class InspectionRectificationReportedV1(_Finding, Contract):
    """The unit reported its rectification, with the hashes of its evidence (报送整改情况)."""

    topic = topics.INSPECTIONS

    evidence_sha256: list[str]
    reporter_role: str = Field(max_length=40)
    reported_at: datetime


class InspectionRectificationAcceptedV1(_Finding, Contract):
    """The inspecting level accepted the rectification (整改通过): the finding is done."""

    topic = topics.INSPECTIONS

    acceptor_role: str = Field(max_length=40)
    accepted_at: datetime


class InspectionRectificationRejectedV1(_Finding, Contract):
    """The inspecting level sent the rectification back with a reason code and a new deadline (退回重改)."""

    topic = topics.INSPECTIONS

    reason_code: Literal["incomplete", "evidence_missing", "not_verified"]
    deadline: date = Field(description="The new deadline")
    rejector_role: str = Field(max_length=40)
    rejected_at: datetime


class InspectionFindingEscalatedV1(_Finding, Contract):
    """A rectification deadline passed while pending: the finding goes to the level above (上报上级)."""

    topic = topics.INSPECTIONS

    deadline: date
    escalated_to: JurisdictionCode = Field(description="The level above the unit (a school's: its township)")
    recorded_at: datetime
