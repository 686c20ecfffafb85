"""Casework events into the ledger (台账, one row per case) and the case steps (its timeline)."""

from __future__ import annotations

from contracts.events import casework as c
from services.reporting.adapters.inbox import Event
from services.reporting.adapters.projections import LEDGER, county_of
from services.reporting.adapters.stores import Row, Store, complete
from services.reporting.domain import labels
from services.reporting.domain.calendar import china_day

LEGAL_STEPS = {c.ReturnNoticeIssuedV1: "return_notice", c.CorrectionOrderIssuedV1: "correction_order",
               c.LegalDocumentsIssuedV1: "legal_documents", c.CourtReferralMadeV1: "court_referral"}


def _step(store: Store, e: Event, case_id: str, township: str, at: object, summary: str) -> None:
    store.put("case_steps", {
        "topic": e.topic, "sequence": e.sequence, "case_id": case_id, "township_code": township,
        "step": e.payload.event_name, "at": at, "recorded_at": e.time, "actor_role": e.actor_role,
        "summary": summary,
    })


def _update(store: Store, e: Event, case_id: str, township: str, at: object, summary: str, **fields: object) -> None:
    """Case events come from one aggregate, in order: each one newer than the row updates it and adds a step."""
    row = store.get("ledger", (case_id,))
    if row is None:  # a case event before its opening (never expected): keep what it says
        row = complete(LEDGER, {"case_id": case_id, "student_id": getattr(e.payload, "student_id", ""),
                                "township_code": township, "county_code": county_of(township), "source": "report",
                                "status": "suspected", "opened_at": at, "excluded": False, "relapses": 0,
                                "last_sequence": 0})
    if row["last_sequence"] >= e.sequence:
        return
    store.put("ledger", {**row, **fields, "latest_action": summary, "latest_action_at": at,
                         "last_event_at": e.time, "last_topic": e.topic, "last_sequence": e.sequence})
    _step(store, e, case_id, township, at, summary)


def opened(store: Store, e: Event) -> None:
    p: c.CaseOpenedV1 = e.payload  # type: ignore[assignment]
    if store.get("ledger", (p.case_id,)) is not None:
        return  # opening again (a republished event) changes nothing
    summary = f"立案：疑似辍学（来源：{labels.SOURCES.get(p.source, p.source)}）"
    store.put("ledger", complete(LEDGER, {
        "case_id": p.case_id, "student_id": p.student_id, "school_id": p.school_id, "township_code": p.township_code,
        "county_code": county_of(p.township_code), "source": p.source, "trigger_id": p.trigger_id,
        "status": "suspected", "opened_at": p.opened_at, "excluded": False, "relapses": 0, "latest_action": summary,
        "latest_action_at": p.opened_at, "last_event_at": e.time, "last_topic": e.topic, "last_sequence": e.sequence,
    }))
    _step(store, e, p.case_id, p.township_code, p.opened_at, summary)


def verified(store: Store, e: Event) -> None:
    p: c.CaseVerifiedV1 = e.payload  # type: ignore[assignment]
    if p.outcome == "dropout":
        causes = ",".join(p.causes)
        _update(store, e, p.case_id, p.township_code, p.verified_at, f"核查：确认辍学（{labels.causes(causes)}）",
                status="confirmed", outcome="dropout", causes=causes or None, verified_at=p.verified_at)
    else:
        reason = labels.REASONS.get(p.reason or "", p.reason or "")
        _update(store, e, p.case_id, p.township_code, p.verified_at, f"核查：非辍学（{reason}）",
                status="not_dropout", outcome="not_dropout", not_dropout_reason=p.reason, verified_at=p.verified_at)


def _owners(current: str | None, changes: list[c.OwnerChange], line: str) -> str | None:
    slots = labels.parse_slots(current)
    for change in changes:
        if change.line == line:
            slots[change.slot] = change.user_id
    return labels.format_slots(slots)


def owners_assigned(store: Store, e: Event) -> None:
    p: c.CaseOwnersAssignedV1 = e.payload  # type: ignore[assignment]
    row: Row = store.get("ledger", (p.case_id,)) or {}
    names = "、".join(f"{labels.SLOTS.get(o.slot, o.slot)} {o.user_id}" for o in p.owners)
    _update(store, e, p.case_id, p.township_code, p.assigned_at,
            f"{'落实' if p.automatic else '调整'}劝返责任人：{names}",
            gov_owners=_owners(row.get("gov_owners"), p.owners, "government"),
            edu_owners=_owners(row.get("edu_owners"), p.owners, "education"))


def escalated(store: Store, e: Event) -> None:
    p: c.CaseEscalatedV1 = e.payload  # type: ignore[assignment]
    deadline = f"，限期至 {p.deadline_at.date().isoformat()}" if p.deadline_at else ""
    _update(store, e, p.case_id, p.township_code, p.issued_at, f"依法控辍：{labels.LADDER[p.step]}{deadline}",
            status="legal", legal_step=p.step, deadline_at=p.deadline_at,
            deadline_status="pending" if p.deadline_at else None)


def legal_step(store: Store, e: Event) -> None:
    """One contract per legal step (issue 12): the step, its document reference and deadline."""
    p = e.payload
    step = LEGAL_STEPS[type(p)]
    deadline = f"，限期至 {china_day(p.deadline_at).isoformat()}" if p.deadline_at else ""
    _update(store, e, p.case_id, p.township_code, p.issued_at,
            f"依法控辍：{labels.LADDER[step]}（文书编号 {p.document_no}）{deadline}",
            status="legal", legal_step=step, legal_document_no=p.document_no, deadline_at=p.deadline_at,
            deadline_status="pending" if p.deadline_at else None)


def visit_recorded(store: Store, e: Event) -> None:
    p: c.HomeVisitRecordedV1 = e.payload  # type: ignore[assignment]
    row: Row = store.get("ledger", (p.case_id,)) or {}
    _update(store, e, p.case_id, p.township_code, p.visited_at,
            f"家访：{p.visitor_count} 人走访，见到 {p.met_count} 人（证据 {p.evidence_count} 份）",
            visits=(row.get("visits") or 0) + 1, last_visit_at=p.visited_at)


def persuasion_attempted(store: Store, e: Event) -> None:
    p: c.PersuasionAttemptedV1 = e.payload  # type: ignore[assignment]
    row: Row = store.get("ledger", (p.case_id,)) or {}
    _update(store, e, p.case_id, p.township_code, p.attempted_at,
            f"劝返（{labels.PERSUASION_METHODS.get(p.method, p.method)}）：{labels.PERSUASION.get(p.outcome, p.outcome)}",
            persuasions=(row.get("persuasions") or 0) + 1, last_persuasion_outcome=p.outcome)


def help_provided(store: Store, e: Event) -> None:
    p: c.HelpProvidedV1 = e.payload  # type: ignore[assignment]
    row: Row = store.get("ledger", (p.case_id,)) or {}
    kinds = sorted({k for k in (row.get("help_kinds") or "").split(",") if k} | {p.category})
    amount = f"（{p.amount_yuan:g} 元）" if p.amount_yuan is not None else ""
    _update(store, e, p.case_id, p.township_code, p.provided_at, f"帮扶：{labels.HELP.get(p.category, p.category)}{amount}",
            help_kinds=",".join(kinds))


def plan_set(store: Store, e: Event) -> None:
    p: c.CasePlanSetV1 = e.payload  # type: ignore[assignment]
    target = f"，目标复学日 {p.target_return_on.isoformat()}" if p.target_return_on else ""
    _update(store, e, p.case_id, p.township_code, p.set_at,
            f"一人一案方案（第 {p.plan_version} 版，{p.measure_count} 项措施{target}）")


def owners_reassigned(store: Store, e: Event) -> None:
    p: c.CaseOwnersReassignedV1 = e.payload  # type: ignore[assignment]
    row: Row = store.get("ledger", (p.case_id,)) or {}
    change = [c.OwnerChange(slot=p.slot, line=p.line, user_id=p.user_id, previous_user_id=p.previous_user_id)]
    _update(store, e, p.case_id, p.township_code, p.reassigned_at,
            f"调整劝返责任人：{labels.SLOTS.get(p.slot, p.slot)} {p.user_id}",
            gov_owners=_owners(row.get("gov_owners"), change, "government"),
            edu_owners=_owners(row.get("edu_owners"), change, "education"))


def deadline_passed(store: Store, e: Event) -> None:
    p: c.CaseDeadlinePassedV1 = e.payload  # type: ignore[assignment]
    what = labels.LADDER.get(p.step or "", "跟踪回访") if p.kind == "ladder" else "复学跟踪期"
    fields = {"deadline_status": "overdue"} if p.kind == "ladder" else {}
    _update(store, e, p.case_id, p.township_code, p.due_at, f"期限已到：{what}", **fields)


def returned(store: Store, e: Event) -> None:
    p: c.CaseReturnedV1 = e.payload  # type: ignore[assignment]
    _update(store, e, p.case_id, p.township_code, e.time, f"复学（{p.returned_on.isoformat()}），跟踪至 "
            f"{p.follow_up_until.isoformat()}", status="returned", returned_on=p.returned_on,
            follow_up_until=p.follow_up_until, deadline_status="met" if _has_deadline(store, p.case_id) else None)


def _has_deadline(store: Store, case_id: str) -> bool:
    row = store.get("ledger", (case_id,))
    return bool(row and row["deadline_at"])


def relapsed(store: Store, e: Event) -> None:
    p: c.CaseRelapsedV1 = e.payload  # type: ignore[assignment]
    row: Row = store.get("ledger", (p.case_id,)) or {"relapses": 0}
    _update(store, e, p.case_id, p.township_code, p.relapsed_at, "反弹：重新劝返" + ("（撤销销号）" if p.reopened else ""),
            status="confirmed", relapses=(row.get("relapses") or 0) + 1, closed_at=None, close_reason=None)


def closed(store: Store, e: Event) -> None:
    p: c.CaseClosedV1 = e.payload  # type: ignore[assignment]
    _update(store, e, p.case_id, p.township_code, p.closed_at,
            f"销号：{labels.REASONS.get(p.reason, p.reason)}（证据 {p.evidence_count} 份）",
            status="closed", closed_at=p.closed_at, close_reason=p.reason)


def excluded(store: Store, e: Event) -> None:
    p: c.CaseExcludedFromCountV1 = e.payload  # type: ignore[assignment]
    basis = "重度残疾" if p.basis == "severe_disability" else "重病"
    _update(store, e, p.case_id, p.township_code, p.excluded_at, f"不计入辍学统计（{basis}）",
            status="excluded", excluded=True)


HANDLERS = {
    c.CaseOpenedV1: opened, c.CaseVerifiedV1: verified, c.CaseOwnersAssignedV1: owners_assigned,
    c.CaseEscalatedV1: escalated, c.CaseDeadlinePassedV1: deadline_passed, c.CaseReturnedV1: returned,
    c.CaseRelapsedV1: relapsed, c.CaseClosedV1: closed, c.CaseExcludedFromCountV1: excluded,
    c.ReturnNoticeIssuedV1: legal_step, c.CorrectionOrderIssuedV1: legal_step, c.LegalDocumentsIssuedV1: legal_step,
    c.CourtReferralMadeV1: legal_step, c.HomeVisitRecordedV1: visit_recorded,
    c.PersuasionAttemptedV1: persuasion_attempted, c.HelpProvidedV1: help_provided, c.CasePlanSetV1: plan_set,
    c.CaseOwnersReassignedV1: owners_reassigned,
}
