"""The stored-event -> contract mapping (one home, one name): what the relay publishes of casework's events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from contracts import Contract
from contracts.events.casework import (
    CaseClosedV1,
    CaseDeadlineApproachingV1,
    CaseDeadlinePassedV1,
    CaseEscalatedV1,
    CaseExcludedFromCountV1,
    CaseOpenedV1,
    CaseOwnersAssignedV1,
    CaseOwnersReassignedV1,
    CasePlanSetV1,
    CaseRelapsedV1,
    CaseReturnedV1,
    CaseVerifiedV1,
    CorrectionOrderIssuedV1,
    CourtReferralMadeV1,
    HelpProvidedV1,
    HomeVisitRecordedV1,
    LegalDocumentsIssuedV1,
    PersuasionAttemptedV1,
    ReturnNoticeIssuedV1,
)
from contracts.events.documents import DocumentIssuedV1, DocumentIssuedV2, DocumentWithdrawnV1, DocumentWithdrawnV2
from services.casework.domain import Case
from services.casework.domain.chain import ChainedAggregate
from services.casework.domain.codes import HELP_CATEGORIES, OWNER_SLOTS
from services.casework.domain.documents import KINDS_V1, CaseDocument


CaseFacts = Callable[[str], tuple[str, str]]  # case id -> (student id, township code), fixed at opening


def to_contract(domain_event: Any, facts: CaseFacts | None = None) -> Contract | None:
    """Maps stored casework events to public contracts; a child's case file and the free text of work records
    (findings, notes, measures, addressees) stay internal. One stored event is at most one message (the relay's
    sequence chain counts on it); README "Events" tables every mapping."""
    e = domain_event
    case_id = str(e.originator_id)
    if isinstance(e, Case.Opened):
        return CaseOpenedV1(case_id=case_id, student_id=e.student_id, school_id=e.school_id,
                            township_code=e.township_code, source=e.source, trigger_id=e.trigger_id,
                            opened_at=e.opened_at)
    if isinstance(e, CaseDocument.Event):
        return _document_contract(e)
    if facts is None or not isinstance(e, ChainedAggregate.Event):
        return None
    builder = _BUILDERS.get(type(e).__name__)
    if builder is None:
        return None
    student_id, township_code = facts(case_id)
    at = (e.meta or {}).get("at") or e.timestamp
    return builder(e, {"case_id": case_id, "student_id": student_id, "township_code": township_code}, at)


def _document_contract(e: Any) -> Contract | None:
    """A document's issue and withdrawal (it carries its own case facts: no lookup); version 1 for the kinds it
    knows, version 2 for the letters of the later legal steps."""
    v1 = e.kind in KINDS_V1
    if isinstance(e, CaseDocument.DocumentIssued):
        return (DocumentIssuedV1 if v1 else DocumentIssuedV2)(document_id=str(e.originator_id), case_id=e.case_id, township_code=e.township_code,
                                kind=e.kind, verification_code=e.code, sha256=e.sha256, source_version=e.source_version,
                                deadline=e.deadline, issued_at=e.issued_at)
    if isinstance(e, CaseDocument.DocumentWithdrawn):
        return (DocumentWithdrawnV1 if v1 else DocumentWithdrawnV2)(document_id=str(e.originator_id), case_id=e.case_id,
                                   township_code=e.township_code, kind=e.kind, verification_code=e.code,
                                   reason=e.reason, withdrawn_at=(e.meta or {}).get("at") or e.timestamp)
    return None


def _without_student(ids: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in ids.items() if k != "student_id"}


def _actor(e: Any) -> str | None:
    return (e.meta or {}).get("actor_id")


def _step(e: Any, ids: dict[str, str], at: Any) -> dict[str, Any]:
    return {**ids, "document_no": e.document_no, "issued_by": _actor(e), "issued_at": at,
            "deadline_at": e.deadline_at, "overridden": e.override is not None, "automatic": e.automatic,
            "evidence_count": len(e.evidence)}


def _plan_version(e: Any) -> int:
    """Plans recorded before issue 12 carry no version; they count as the first."""
    return int(getattr(e, "plan_version", None) or 1)


_BUILDERS: dict[str, Callable[[Any, dict[str, str], Any], Contract]] = {
    "VerifiedNotDropout": lambda e, ids, at: CaseVerifiedV1(**ids, outcome="not_dropout", reason=e.reason,
                                                            verified_at=at),
    "DropoutConfirmed": lambda e, ids, at: CaseVerifiedV1(**ids, outcome="dropout", causes=e.causes, verified_at=at),
    "OwnersAssigned": lambda e, ids, at: CaseOwnersAssignedV1(
        **_without_student(ids), automatic=True, assigned_at=at,
        owners=[{"slot": o["slot"], "line": OWNER_SLOTS[o["slot"]][0], "user_id": o["user_id"]} for o in e.owners]),
    "OwnerReassigned": lambda e, ids, at: CaseOwnersReassignedV1(
        **_without_student(ids), slot=e.slot, line=OWNER_SLOTS[e.slot][0], user_id=e.user_id,
        previous_user_id=e.previous_user_id, reassigned_by=_actor(e), reassigned_at=at),
    "LegalStepTaken": lambda e, ids, at: CaseEscalatedV1(  # stored before issue 12
        **ids, step=e.step, issued_at=at, deadline_at=e.deadline_at, overridden=e.override is not None,
        automatic=e.automatic),
    "ReturnNoticeIssued": lambda e, ids, at: ReturnNoticeIssuedV1(**_step(e, ids, at)),
    "CorrectionOrderIssued": lambda e, ids, at: CorrectionOrderIssuedV1(**_step(e, ids, at)),
    "LegalDocumentsIssued": lambda e, ids, at: LegalDocumentsIssuedV1(**_step(e, ids, at)),
    "CourtReferralMade": lambda e, ids, at: CourtReferralMadeV1(**_step(e, ids, at)),
    "HomeVisitRecorded": lambda e, ids, at: HomeVisitRecordedV1(
        **_without_student(ids), record_id=e.record_id, visited_at=e.visited_at, visitor_count=len(e.visitors),
        met_count=len(e.met), evidence_count=len(e.evidence), recorded_by=_actor(e), recorded_at=at),
    "PersuasionAttempted": lambda e, ids, at: PersuasionAttemptedV1(
        **_without_student(ids), record_id=e.record_id, method=e.method, outcome=e.outcome,
        persuaders=getattr(e, "persuaders", None) or ([_actor(e)] if _actor(e) else []),
        place=getattr(e, "place", None), with_whom=getattr(e, "with_whom", None) or [], attempted_at=at),
    "HelpGiven": lambda e, ids, at: HelpProvidedV1(
        **_without_student(ids), record_id=e.record_id, kind=e.help_type, category=HELP_CATEGORIES[e.help_type],
        amount_yuan=e.amount_yuan, provided_by=_actor(e), provided_at=at),
    "PlanRecorded": lambda e, ids, at: CasePlanSetV1(
        **_without_student(ids), record_id=e.record_id, plan_version=_plan_version(e), measure_count=len(e.measures),
        target_return_on=e.target_return_on, set_by=_actor(e), set_at=at),
    "DeadlinePassed": lambda e, ids, at: CaseDeadlinePassedV1(**_without_student(ids), timer_id=e.timer_id,
                                                              kind=e.kind, step=e.step, due_at=e.due_at,
                                                              action=e.action),
    "DeadlineApproaching": lambda e, ids, at: CaseDeadlineApproachingV1(
        **_without_student(ids), timer_id=e.timer_id, kind=e.kind, step=e.step, due_at=e.due_at,
        days_before=e.days_before),
    "Returned": lambda e, ids, at: CaseReturnedV1(**ids, source=e.source, returned_on=e.returned_on,
                                                  follow_up_until=e.follow_up_until),
    "Relapsed": lambda e, ids, at: CaseRelapsedV1(**ids, trigger_id=e.trigger_id, reopened=False, relapsed_at=at),
    "Reopened": lambda e, ids, at: CaseRelapsedV1(**ids, trigger_id=e.trigger_id, reopened=True, relapsed_at=at),
    "Closed": lambda e, ids, at: CaseClosedV1(**ids, reason=e.reason, evidence_count=len(e.evidence),
                                              approved_by=e.approved_by, closed_at=at),
    "TriggerRetracted": lambda e, ids, at: CaseClosedV1(  # type: ignore[dict-item]
        **ids, reason="trigger_retracted", evidence_count=len(getattr(e, "evidence", None) or []),
        closed_at=at) if e.closes else None,
    "ExcludedFromCount": lambda e, ids, at: CaseExcludedFromCountV1(**ids, basis=e.basis, excluded_at=at),
}


def facts_from(app: Any, cache_size: int = 10_000) -> CaseFacts:
    """Case id -> (student id, township code), read once per case (they never change after opening)."""
    cache: dict[str, tuple[str, str]] = {}

    def facts(case_id: str) -> tuple[str, str]:
        if case_id not in cache:
            if len(cache) >= cache_size:
                cache.clear()
            opened = next(iter(app.events.get(uuid.UUID(case_id), lte=1)))
            cache[case_id] = (opened.student_id, opened.township_code)
        return cache[case_id]

    return facts
