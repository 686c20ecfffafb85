"""Plain data out of the domain: a case as callers see it, its history, and its public contracts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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
from services.casework.domain import Case
from services.casework.domain.chain import ENVELOPE_FIELDS, ChainedAggregate
from services.casework.domain.codes import OWNER_SLOTS
from services.casework.domain.progress import next_action


@dataclass(frozen=True)
class CaseView:
    case_id: str
    student_id: str
    school_id: str | None
    township_code: str
    source: str
    stage: str
    trigger_id: str
    trigger_ids: list[str]
    evidence: dict[str, Any]
    opened_at: datetime
    version: int
    owners: list[dict[str, Any]]
    home: dict[str, Any] | None
    verification: dict[str, Any] | None
    plan: dict[str, Any] | None
    records: list[dict[str, Any]]
    ladder: dict[str, dict[str, Any]]
    timers: list[dict[str, Any]]
    returned: dict[str, Any] | None
    pending_closure: dict[str, Any] | None
    closure: dict[str, Any] | None
    exclusion: dict[str, Any] | None
    relapses: int
    retracted_trigger_ids: list[str]
    next_action: str | None
    next_due_at: datetime | None


@dataclass(frozen=True)
class HistoryEntry:
    """One stored event of a case: what happened, who did it, when it happened and when it was recorded."""

    version: int
    event: str
    at: str | None
    recorded_at: datetime
    actor_id: str | None
    actor_role: str | None
    jurisdiction: str | None
    correlation_id: str | None
    causation_id: str | None
    data: dict[str, Any]
    chain: str | None = None


def case_view(case: Case) -> CaseView:
    action, due = next_action(case)
    owners = [{"slot": slot, "line": OWNER_SLOTS[slot][0], "label": OWNER_SLOTS[slot][1], **o}
              for slot, o in sorted(case.owners.items(), key=lambda kv: list(OWNER_SLOTS).index(kv[0]))]
    return CaseView(
        case_id=str(case.id), student_id=case.student_id, school_id=case.school_id,
        township_code=case.township_code, source=case.source, stage=case.stage, trigger_id=case.trigger_id,
        trigger_ids=list(case.trigger_ids), evidence=dict(case.evidence), opened_at=case.opened_at,
        version=case.version, owners=owners, home=case.home, verification=case.verification, plan=case.plan,
        records=list(case.records), ladder=dict(case.ladder),
        timers=sorted(({"timer_id": k, **v} for k, v in case.timers.items()), key=lambda t: t["due_at"]),
        returned=case.returned, pending_closure=case.pending_closure, closure=case.closure,
        exclusion=case.exclusion, relapses=case.relapses, retracted_trigger_ids=list(case.retracted),
        next_action=action, next_due_at=due,
    )


def history_entry(domain_event: Any) -> HistoryEntry:
    meta = getattr(domain_event, "meta", None) or {}
    data = {k: v for k, v in domain_event.__dict__.items() if k not in ENVELOPE_FIELDS}
    return HistoryEntry(
        version=domain_event.originator_version, event=type(domain_event).__name__, at=meta.get("at"),
        recorded_at=domain_event.timestamp, actor_id=meta.get("actor_id"), actor_role=meta.get("actor_role"),
        jurisdiction=meta.get("jurisdiction"), correlation_id=meta.get("correlation_id"),
        causation_id=meta.get("causation_id"), data=data, chain=meta.get("chain"),
    )


CaseFacts = Callable[[str], tuple[str, str]]  # case id -> (student id, township code), fixed at opening


def to_contract(domain_event: Any, facts: CaseFacts | None = None) -> Contract | None:
    """Maps stored casework events to public contracts; a child's case file and work records stay internal."""
    e = domain_event
    case_id = str(e.originator_id)
    if isinstance(e, Case.Opened):
        return CaseOpenedV1(case_id=case_id, student_id=e.student_id, school_id=e.school_id,
                            township_code=e.township_code, source=e.source, trigger_id=e.trigger_id,
                            opened_at=e.opened_at)
    if facts is None or not isinstance(e, ChainedAggregate.Event):
        return None
    builder = _BUILDERS.get(type(e).__name__)
    if builder is None:
        return None
    student_id, township_code = facts(case_id)
    at = (e.meta or {}).get("at") or e.timestamp
    return builder(e, {"case_id": case_id, "student_id": student_id, "township_code": township_code}, at)


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
