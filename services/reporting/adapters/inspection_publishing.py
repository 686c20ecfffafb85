"""The inspection store's events → public contracts (InspectionFindingRecorded, InspectionRectificationDue,
InspectionFindingEscalated), for a relay over the inspection store; the other inspection events stay internal."""

from __future__ import annotations

from typing import Any

from contracts import Contract
from contracts.events.inspections import (
    InspectionFindingEscalatedV1,
    InspectionFindingRecordedV1,
    InspectionRectificationDueV1,
)
from services.reporting.domain.inspections import Inspection


def to_contract(domain_event: Any) -> Contract | None:
    """Codes, hashes, dates: every field comes from the stored event itself (no lookup, nothing personal)."""
    e, iid = domain_event, str(domain_event.originator_id)
    if isinstance(e, Inspection.FindingRecorded):
        return InspectionFindingRecordedV1(
            inspection_id=iid, finding_id=e.finding_id, inspection_code=e.inspection_code, unit_code=e.unit_code,
            school_id=e.school_id, description_code=e.description_code, severity=e.severity,
            evidence_sha256=[x["sha256"] for x in e.evidence], recorded_at=e.at)
    if isinstance(e, Inspection.RectificationReminded):
        return InspectionRectificationDueV1(
            inspection_id=iid, finding_id=e.finding_id, unit_code=e.unit_code, school_id=e.school_id,
            deadline=e.deadline, days_left=e.days_left, recorded_at=e.at)
    if isinstance(e, Inspection.FindingEscalated):
        return InspectionFindingEscalatedV1(
            inspection_id=iid, finding_id=e.finding_id, unit_code=e.unit_code, school_id=e.school_id,
            deadline=e.deadline, escalated_to=e.to_code, recorded_at=e.at)
    return None
