"""The inspection store's events → public contracts on ``baoxue.inspections.v1`` (the inspection relay's mapping):
planned, finding recorded, rectification ordered / due / reported / accepted / rejected, finding escalated.
DeadlinePassed stays internal (FindingEscalated follows it in the same save and says everything it says)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import Contract
from contracts.events.inspections import (
    InspectionFindingEscalatedV1,
    InspectionFindingRecordedV1,
    InspectionPlannedV1,
    InspectionRectificationAcceptedV1,
    InspectionRectificationDueV1,
    InspectionRectificationOrderedV1,
    InspectionRectificationRejectedV1,
    InspectionRectificationReportedV1,
)
from services.reporting.domain.inspections import Inspection

FindingFacts = Callable[[Any, str, int], dict[str, Any]]  # inspection id, finding id, version -> the finding's facts


def facts_from(app: Any) -> FindingFacts:
    """A finding's unit and what was found, read once from the inspection store (they never change)."""
    cache: dict[tuple[Any, str], dict[str, Any]] = {}

    def facts(inspection_id: Any, finding_id: str, version: int) -> dict[str, Any]:
        if (inspection_id, finding_id) not in cache:
            i = app.repository.get(inspection_id, version=version)
            f = i.findings[finding_id]
            cache[(inspection_id, finding_id)] = {
                "inspection_code": i.code, "unit_code": f["unit_code"], "school_id": f["school_id"],
                "description_code": f["description_code"]}
        return cache[(inspection_id, finding_id)]

    return facts


def to_contract(domain_event: Any, facts: FindingFacts | None = None) -> Contract | None:
    """Codes, hashes, roles, dates: nothing personal (the inspection's free-text title is not published)."""
    e, iid = domain_event, str(domain_event.originator_id)
    if isinstance(e, Inspection.Planned):
        return InspectionPlannedV1(inspection_id=iid, inspection_code=e.code, planned_on=e.planned_on,
                                   planner_role=e.by_role, planned_at=e.at)
    if isinstance(e, Inspection.FindingRecorded):
        return InspectionFindingRecordedV1(
            inspection_id=iid, finding_id=e.finding_id, inspection_code=e.inspection_code, unit_code=e.unit_code,
            school_id=e.school_id, description_code=e.description_code, severity=e.severity,
            evidence_sha256=[x["sha256"] for x in e.evidence], recorder_role=e.by_role, recorded_at=e.at)
    build = _BUILDERS.get(type(e).__name__)
    if build is None or facts is None or not isinstance(e, Inspection.Event):
        return None
    return build(e, {"inspection_id": iid, "finding_id": e.finding_id,
                     **facts(e.originator_id, e.finding_id, e.originator_version)})


_BUILDERS: dict[str, Callable[[Any, dict[str, Any]], Contract]] = {
    "RectificationOrdered": lambda e, f: InspectionRectificationOrderedV1(
        **f, deadline=e.deadline, orderer_role=e.by_role, ordered_at=e.at),
    "RectificationReminded": lambda e, f: InspectionRectificationDueV1(
        **f, deadline=e.deadline, days_left=e.days_left, recorded_at=e.at),
    "RectificationReported": lambda e, f: InspectionRectificationReportedV1(
        **f, evidence_sha256=[x["sha256"] for x in e.evidence], reporter_role=e.by_role, reported_at=e.at),
    "RectificationAccepted": lambda e, f: InspectionRectificationAcceptedV1(
        **f, acceptor_role=e.by_role, accepted_at=e.at),
    "RectificationRejected": lambda e, f: InspectionRectificationRejectedV1(
        **f, reason_code=e.reason_code, deadline=e.deadline, rejector_role=e.by_role, rejected_at=e.at),
    "FindingEscalated": lambda e, f: InspectionFindingEscalatedV1(
        **f, deadline=e.deadline, escalated_to=e.to_code, recorded_at=e.at),
}
