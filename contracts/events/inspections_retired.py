"""The first inspection contracts (督导检查), declared on reporting's topic and never published: no relay ever
carried them (the reporting relay publishes the report store only, and a second relay on its topic would share its
position and its consumers' dedupe by (topic, sequence) with a store of other sequences). Their committed schemas stay
as the record (a version is never removed); the inspection store publishes on its own topic
(``contracts/events/inspections.py``, ``baoxue.inspections.v1``) and nothing produces or consumes these."""

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from contracts import topics
from contracts.base import Contract
from contracts.events.common import Id, JurisdictionCode

Severity = Literal["general", "serious", "grave"]


class InspectionFindingRecordedV1(Contract):
    """An inspection recorded a finding against a unit (a school's: its township and the school id)."""

    topic = topics.REPORTING
    inspection_id: Id
    finding_id: str = Field(min_length=1, max_length=120)
    inspection_code: JurisdictionCode = Field(description="The jurisdiction the inspection covers")
    unit_code: JurisdictionCode = Field(description="The unit found at fault")
    school_id: Id | None
    description_code: str = Field(max_length=32, description="What was found (services/reporting README)")
    severity: Severity
    evidence_sha256: list[str] = Field(description="SHA-256 of each piece of evidence, kept by the inspectors")
    recorded_at: datetime


class InspectionRectificationDueV1(Contract):
    """A rectification deadline comes near while the unit has not reported (a reminder to the unit)."""

    topic = topics.REPORTING
    inspection_id: Id
    finding_id: str = Field(min_length=1, max_length=120)
    unit_code: JurisdictionCode
    school_id: Id | None
    deadline: date
    days_left: int = Field(ge=0)
    recorded_at: datetime


class InspectionFindingEscalatedV1(Contract):
    """A rectification deadline passed while pending: the finding goes to the level above (上报上级)."""

    topic = topics.REPORTING
    inspection_id: Id
    finding_id: str = Field(min_length=1, max_length=120)
    unit_code: JurisdictionCode
    school_id: Id | None
    deadline: date
    escalated_to: JurisdictionCode = Field(description="The level above the unit (a school's: its township)")
    recorded_at: datetime
