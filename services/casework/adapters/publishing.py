"""The stored-event -> contract mapping (one home, one name): what the relay publishes of casework's events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from contracts import Contract
from contracts.events.casework import (
    CaseClosedV1,
    CaseDeadlinePassedV1,
    CaseEscalatedV1,
    CaseExcludedFromCountV1,
    CaseOpenedV1,
    CaseOwnersAssignedV1,
    CaseRelapsedV1,
    CaseReturnedV1,
    CaseVerifiedV1,
)
from contracts.events.documents import DocumentIssuedV1, DocumentWithdrawnV1
from services.casework.domain import Case
from services.casework.domain.chain import ChainedAggregate
from services.casework.domain.codes import OWNER_SLOTS
from services.casework.domain.documents import CaseDocument


CaseFacts = Callable[[str], tuple[str, str]]  # case id -> (student id, township code), fixed at opening


def to_contract(domain_event: Any, facts: CaseFacts | None = None) -> Contract | None:
    """Maps stored casework events to public contracts; a child's case file and work records stay internal."""
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
    """A document's issue and withdrawal (it carries its own case facts: no lookup)."""
    if isinstance(e, CaseDocument.DocumentIssued):
        return DocumentIssuedV1(document_id=str(e.originator_id), case_id=e.case_id, township_code=e.township_code,
                                kind=e.kind, verification_code=e.code, sha256=e.sha256, source_version=e.source_version,
                                deadline=e.deadline, issued_at=e.issued_at)
    if isinstance(e, CaseDocument.DocumentWithdrawn):
        return DocumentWithdrawnV1(document_id=str(e.originator_id), case_id=e.case_id,
                                   township_code=e.township_code, kind=e.kind, verification_code=e.code,
                                   reason=e.reason, withdrawn_at=(e.meta or {}).get("at") or e.timestamp)
    return None


def _without_student(ids: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in ids.items() if k != "student_id"}


_BUILDERS: dict[str, Callable[[Any, dict[str, str], Any], Contract]] = {
    "VerifiedNotDropout": lambda e, ids, at: CaseVerifiedV1(**ids, outcome="not_dropout", reason=e.reason,
                                                            verified_at=at),
    "DropoutConfirmed": lambda e, ids, at: CaseVerifiedV1(**ids, outcome="dropout", causes=e.causes, verified_at=at),
    "OwnersAssigned": lambda e, ids, at: CaseOwnersAssignedV1(
        **_without_student(ids), automatic=True, assigned_at=at,
        owners=[{"slot": o["slot"], "line": OWNER_SLOTS[o["slot"]][0], "user_id": o["user_id"]} for o in e.owners]),
    "OwnerReassigned": lambda e, ids, at: CaseOwnersAssignedV1(
        **_without_student(ids), automatic=False, assigned_at=at,
        owners=[{"slot": e.slot, "line": OWNER_SLOTS[e.slot][0], "user_id": e.user_id,
                 "previous_user_id": e.previous_user_id}]),
    "LegalStepTaken": lambda e, ids, at: CaseEscalatedV1(**ids, step=e.step, issued_at=at, deadline_at=e.deadline_at,
                                                         overridden=e.override is not None, automatic=e.automatic),
    "DeadlinePassed": lambda e, ids, at: CaseDeadlinePassedV1(**_without_student(ids), timer_id=e.timer_id,
                                                              kind=e.kind, step=e.step, due_at=e.due_at,
                                                              action=e.action),
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
