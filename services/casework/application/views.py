"""Plain data out of the domain: a case as callers see it, and one stored event of its history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.casework.domain import Case
from services.casework.domain.chain import ENVELOPE_FIELDS
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
