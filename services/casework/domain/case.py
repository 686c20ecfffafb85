"""The case (一人一案): one child's episode from suspicion through verification, persuasion, legal
escalation and return to closure (销号). Every event is sealed into the case's hash chain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import event

from services.casework.domain import rules
from services.casework.domain.chain import ChainedAggregate
from services.casework.domain.codes import (
    CLOSURE_APPROVER_ROLES,
    CLOSURE_REASONS,
    DROPOUT_CAUSES,
    EXCLUSION_BASES,
    NOT_DROPOUT_REASONS,
    OWNER_SLOTS,
)
from services.casework.domain.errors import Conflict, InvalidInput
from services.casework.domain.ids import NAMESPACE, case_id_for
from services.casework.domain.ladder import LadderMixin, reminder_plan
from services.casework.domain.work import WorkRecordsMixin


class Case(LadderMixin, WorkRecordsMixin, ChainedAggregate):
    """One child's case for one episode of being out of school; it starts at the suspected stage."""

    @event("Opened")
    def __init__(self, student_id: str, school_id: str | None, township_code: str, source: str, trigger_id: str,
                 evidence: dict[str, Any], opened_at: datetime, meta: dict[str, Any]) -> None:
        self.student_id = student_id
        self.school_id = school_id
        self.township_code = township_code
        self.source = source
        self.trigger_id = trigger_id
        self.evidence = evidence
        self.opened_at = opened_at
        self.meta = meta
        self.stage = "suspected"
        self.trigger_ids = [trigger_id]
        self.retracted: list[str] = []
        self.home: dict[str, Any] | None = None
        self.verification: dict[str, Any] | None = None
        self.owners: dict[str, dict[str, Any]] = {}
        self.records: list[dict[str, Any]] = []
        self.plan: dict[str, Any] | None = None
        self.ladder: dict[str, dict[str, Any]] = {}
        self.timers: dict[str, dict[str, Any]] = {}
        self.returned: dict[str, Any] | None = None
        self.closure: dict[str, Any] | None = None
        self.pending_closure: dict[str, Any] | None = None
        self.exclusion: dict[str, Any] | None = None
        self.relapses = 0

    @staticmethod
    def create_id(source: str, trigger_id: str, **_: Any) -> uuid.UUID:
        return case_id_for(source, trigger_id)

    # -- triggers ---------------------------------------------------------------------------
    @event("TriggerAttached")
    def attach_trigger(self, trigger_id: str, source: str, evidence: dict[str, Any], meta: dict[str, Any]) -> None:
        """A further detection or report about the same episode joins the open case as evidence."""
        self.trigger_ids.append(trigger_id)

    def join(self, trigger_id: str, source: str, evidence: dict[str, Any], meta: dict[str, Any]) -> None:
        """A new trigger joins the case; during follow-up after a return it is a relapse (反弹)."""
        self.attach_trigger(trigger_id=trigger_id, source=source, evidence=evidence, meta=meta)
        if self.stage in ("returned", "closure_pending") and self.returned is not None:
            self._relapsed(trigger_id=trigger_id, previous_stage=self.stage,
                           cancelled_timers=self.pending_timers(), meta=meta)

    @event("Relapsed")
    def _relapsed(self, trigger_id: str, previous_stage: str, cancelled_timers: list[str],
                  meta: dict[str, Any]) -> None:
        self._cancel(cancelled_timers)
        self.stage = "persuading"
        self.returned = None
        self.pending_closure = None
        self.relapses += 1

    def retract_trigger(self, trigger_id: str, reason: str, meta: dict[str, Any], reason_code: str | None = None,
                        evidence: list[dict[str, Any]] | None = None) -> bool:
        """The source corrected itself (an absence excused later, a registry finding withdrawn): closes an
        unverified case whose every trigger is retracted, otherwise annotates it. False when already recorded."""
        if trigger_id not in self.trigger_ids:
            raise InvalidInput("该触发事项不属于本案件", rule="retraction.trigger_of_case")
        if trigger_id in self.retracted:
            return False
        rules.require_text(reason, "retraction.reason_required", "撤销原因")
        proof = rules.checked_evidence(evidence, required=False, rule="retraction.evidence")
        remaining = [t for t in self.trigger_ids if t != trigger_id and t not in self.retracted]
        closes = not remaining and self.stage in ("suspected", "verifying")
        self._trigger_retracted(trigger_id=trigger_id, reason=reason, closes=closes,
                                cancelled_timers=self.pending_timers() if closes else [], meta=meta,
                                reason_code=reason_code, evidence=proof)
        return True

    @event("TriggerRetracted")
    def _trigger_retracted(self, trigger_id: str, reason: str, closes: bool, cancelled_timers: list[str],
                           meta: dict[str, Any], reason_code: str | None = None,
                           evidence: list[dict[str, Any]] | None = None) -> None:
        self.retracted.append(trigger_id)
        if closes:
            self._cancel(cancelled_timers)
            self.stage = "closed"
            self.closure = {"reason": "trigger_retracted", "at": meta.get("at"), "evidence": list(evidence or []),
                            "note": reason, "approved_by": None, "source_reason": reason_code}

    # -- verification (核查) ----------------------------------------------------------------
    def start_verification(self, meta: dict[str, Any]) -> None:
        rules.require_stage(self.stage, "start_verification")
        self._verification_started(meta=meta)

    @event("VerificationStarted")
    def _verification_started(self, meta: dict[str, Any]) -> None:
        self.stage = "verifying"

    def conclude_not_dropout(self, reason: str, finding: str, evidence: list[dict[str, Any]],
                             meta: dict[str, Any]) -> None:
        """Not a dropout (studying elsewhere, moved, deceased, ...), always with evidence."""
        rules.require_stage(self.stage, "conclude_not_dropout")
        rules.require_code(reason, NOT_DROPOUT_REASONS, "verification.reason_code", "核查结论")
        finding = rules.require_text(finding, "verification.finding_required", "核查情况")
        proof = rules.checked_evidence(evidence, required=True, rule="verification.evidence_required")
        self._verified_not_dropout(reason=reason, finding=finding, evidence=proof, meta=meta)

    @event("VerifiedNotDropout")
    def _verified_not_dropout(self, reason: str, finding: str, evidence: list[dict[str, Any]],
                              meta: dict[str, Any]) -> None:
        self.stage = "not_dropout"
        self.verification = {"outcome": "not_dropout", "reason": reason, "finding": finding, "at": meta.get("at")}

    def confirm_dropout(self, causes: list[str], cause_analysis: str, meta: dict[str, Any]) -> None:
        """A confirmed dropout names its causes (原因分析细) and moves to persuasion (劝返)."""
        rules.require_stage(self.stage, "confirm_dropout")
        if not causes:
            raise InvalidInput("确认辍学须至少填写一项辍学原因", rule="verification.cause_required")
        for cause in causes:
            rules.require_code(cause, DROPOUT_CAUSES, "verification.cause_code", "辍学原因")
        analysis = rules.require_text(cause_analysis, "verification.analysis_required", "原因分析")
        self._dropout_confirmed(causes=sorted(set(causes)), cause_analysis=analysis, meta=meta)

    @event("DropoutConfirmed")
    def _dropout_confirmed(self, causes: list[str], cause_analysis: str, meta: dict[str, Any]) -> None:
        self.stage = "persuading"
        self.verification = {"outcome": "dropout", "causes": causes, "cause_analysis": cause_analysis,
                             "at": meta.get("at")}

    def locate_home(self, village_code: str, group: str | None, meta: dict[str, Any]) -> None:
        """Where the child lives (village, group): the government line's owners hang on it."""
        rules.require_stage(self.stage, "record_work")
        if len(village_code) != 12 or not village_code.isdigit():
            raise InvalidInput("村（社区）代码须为12位", rule="home.village_code")
        if not village_code.startswith(self.township_code[:6]):
            raise InvalidInput("居住地须在案件所在县内", rule="home.in_county")
        self._home_located(village_code=village_code, group=(group or "").strip() or None, meta=meta)

    @event("HomeLocated")
    def _home_located(self, village_code: str, group: str | None, meta: dict[str, Any]) -> None:
        self.home = {"village_code": village_code, "group": group}

    # -- owners (双线四包) -------------------------------------------------------------------
    def assign_owners(self, found: dict[str, dict[str, Any]], meta: dict[str, Any]) -> list[str]:
        """Fills empty slots from the responsibility map; returns the slots filled."""
        rules.require_stage(self.stage, "assign_owner")
        fill = []
        for slot, owner in sorted(found.items()):
            if slot in OWNER_SLOTS and slot not in self.owners:
                named = {"slot": slot, "user_id": owner["user_id"], "name": owner.get("name")}
                fill.append({**named, "source": owner["source"]} if owner.get("source") else named)
        if fill:
            self._owners_assigned(owners=fill, meta=meta)
        return [o["slot"] for o in fill]

    @event("OwnersAssigned")
    def _owners_assigned(self, owners: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        for owner in owners:
            self.owners[owner["slot"]] = {"user_id": owner["user_id"], "name": owner["name"],
                                          "line": OWNER_SLOTS[owner["slot"]][0], "since": meta.get("at")}

    def reassign_owner(self, slot: str, user_id: str, name: str | None, reason: str, meta: dict[str, Any]) -> bool:
        """A named person takes over a slot; the history keeps who held it before and why."""
        rules.require_stage(self.stage, "assign_owner")
        rules.require_code(slot, {k: v[1] for k, v in OWNER_SLOTS.items()}, "owners.slot", "责任人类别")
        rules.require_text(user_id, "owners.user_required", "责任人")
        reason = rules.require_text(reason, "owners.reason_required", "调整原因")
        previous = self.owners.get(slot, {}).get("user_id")
        if previous == user_id:
            return False
        self._owner_reassigned(slot=slot, user_id=user_id, name=name, previous_user_id=previous, reason=reason,
                               meta=meta)
        return True

    @event("OwnerReassigned")
    def _owner_reassigned(self, slot: str, user_id: str, name: str | None, previous_user_id: str | None,
                          reason: str, meta: dict[str, Any]) -> None:
        self.owners[slot] = {"user_id": user_id, "name": name, "line": OWNER_SLOTS[slot][0], "since": meta.get("at")}

    # -- return (复学) and closure (销号) -------------------------------------------------------
    def record_return(self, source: str, returned_on: date, reference: str | None, follow_up_until: date,
                      follow_up_due_at: datetime, evidence: list[dict[str, Any]], meta: dict[str, Any],
                      remind_days: Iterable[int] = ()) -> bool:
        """Back in school: legal deadlines stop and a follow-up period (防反弹) starts. False if already known."""
        if self.returned is not None and self.returned.get("reference") == reference and reference:
            return False
        rules.require_stage(self.stage, "record_return")
        if source not in ("attendance", "school_confirmation"):
            raise InvalidInput("复学来源须为考勤或学校确认", rule="return.source")
        proof = rules.checked_evidence(evidence, required=False, rule="return.evidence")
        timer = {"timer_id": str(uuid.uuid5(NAMESPACE, f"{self.id}:follow_up:{self.relapses}")), "kind": "follow_up",
                 "step": None, "due_at": follow_up_due_at.isoformat(), "on_missed": "alert", "status": "pending",
                 "reminders": reminder_plan(follow_up_due_at, remind_days, rules.at_of(meta)), "reminded": []}
        self._returned(source=source, returned_on=returned_on, reference=reference, follow_up_until=follow_up_until,
                       timer=timer, cancelled_timers=self.pending_timers(), evidence=proof, meta=meta)
        return True

    @event("Returned")
    def _returned(self, source: str, returned_on: date, reference: str | None, follow_up_until: date,
                  timer: dict[str, Any], cancelled_timers: list[str], evidence: list[dict[str, Any]],
                  meta: dict[str, Any]) -> None:
        self._cancel(cancelled_timers)
        self.timers[timer["timer_id"]] = dict(timer)
        self.stage = "returned"
        self.returned = {"source": source, "returned_on": returned_on, "reference": reference,
                         "follow_up_until": follow_up_until}

    def close(self, reason: str, evidence: list[dict[str, Any]], note: str, approval_required: bool,
              meta: dict[str, Any]) -> None:
        """销号 needs a reason that fits the case and evidence; some counties approve it first."""
        rules.require_code(reason, CLOSURE_REASONS, "closure.reason_code", "销号原因")
        if reason == "returned":
            rules.require_stage(self.stage, "close_returned")
            assert self.returned is not None
            if rules.at_of(meta).date() < self.returned["follow_up_until"]:
                raise Conflict(f"复学跟踪期至 {self.returned['follow_up_until']} 结束，期满后方可销号",
                               rule="closure.follow_up_period")
        else:
            rules.require_stage(self.stage, "close_not_dropout")
            assert self.verification is not None
            if reason != self.verification["reason"]:
                raise Conflict("销号原因须与核查结论一致", rule="closure.reason_matches_verification")
        proof = rules.checked_evidence(evidence, required=True, rule="closure.evidence_required")
        if approval_required:
            self._closure_requested(reason=reason, evidence=proof, note=note, meta=meta)
        else:
            self._closed(reason=reason, evidence=proof, note=note, approved_by=None,
                         cancelled_timers=self.pending_timers(), meta=meta)

    @event("ClosureRequested")
    def _closure_requested(self, reason: str, evidence: list[dict[str, Any]], note: str,
                           meta: dict[str, Any]) -> None:
        self.pending_closure = {"reason": reason, "evidence": evidence, "note": note, "from_stage": self.stage,
                                "requested_by": meta.get("actor_id")}
        self.stage = "closure_pending"

    def decide_closure(self, approve: bool, comment: str, meta: dict[str, Any]) -> None:
        """The county bureau approves or sends back a requested 销号."""
        rules.require_stage(self.stage, "decide_closure")
        rules.require_actor_role(meta, CLOSURE_APPROVER_ROLES, "closure.approver_role", "审批销号")
        assert self.pending_closure is not None
        if approve:
            p = self.pending_closure
            self._closed(reason=p["reason"], evidence=p["evidence"], note=p["note"],
                         approved_by=meta.get("actor_id"), cancelled_timers=self.pending_timers(), meta=meta)
        else:
            self._closure_rejected(comment=rules.require_text(comment, "closure.rejection_reason", "退回原因"),
                                   meta=meta)

    @event("ClosureRejected")
    def _closure_rejected(self, comment: str, meta: dict[str, Any]) -> None:
        assert self.pending_closure is not None
        self.stage = self.pending_closure["from_stage"]
        self.pending_closure = None

    @event("Closed")
    def _closed(self, reason: str, evidence: list[dict[str, Any]], note: str, approved_by: str | None,
                cancelled_timers: list[str], meta: dict[str, Any]) -> None:
        self._cancel(cancelled_timers)
        self.stage = "closed"
        self.pending_closure = None
        self.closure = {"reason": reason, "at": meta.get("at"), "evidence": evidence, "note": note,
                        "approved_by": approved_by}

    def exclude_from_count(self, basis: str, note: str, evidence: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        """A child without capacity to study (severe disability or illness) is not counted as a dropout."""
        rules.require_stage(self.stage, "exclude_from_count")
        rules.require_actor_role(meta, ("county_officer",), "exclusion.role", "认定不计入辍学")
        rules.require_code(basis, EXCLUSION_BASES, "exclusion.basis", "认定依据")
        proof = rules.checked_evidence(evidence, required=True, rule="exclusion.evidence_required")
        if not any(e["kind"] in ("assessment", "certificate") for e in proof):
            raise InvalidInput("须附残疾证、医学诊断或评估鉴定材料", rule="exclusion.assessment_required")
        self._excluded(basis=basis, note=note, evidence=proof, cancelled_timers=self.pending_timers(), meta=meta)

    @event("ExcludedFromCount")
    def _excluded(self, basis: str, note: str, evidence: list[dict[str, Any]], cancelled_timers: list[str],
                  meta: dict[str, Any]) -> None:
        self._cancel(cancelled_timers)
        self.stage = "excluded"
        self.exclusion = {"basis": basis, "note": note, "at": meta.get("at")}

    def reopen(self, trigger_id: str, source: str, evidence: dict[str, Any], meta: dict[str, Any]) -> None:
        """A child who returned and was closed drops out again: the same case (一人一案) reopens."""
        rules.require_stage(self.stage, "reopen")
        if (self.closure or {}).get("reason") != "returned":
            raise Conflict("仅以复学销号的案件可因反弹重新立案", rule="reopen.after_return_only")
        self._reopened(trigger_id=trigger_id, source=source, evidence=evidence, meta=meta)

    @event("Reopened")
    def _reopened(self, trigger_id: str, source: str, evidence: dict[str, Any], meta: dict[str, Any]) -> None:
        self.trigger_ids.append(trigger_id)
        self.stage = "persuading"
        self.relapses += 1
        self.returned = None
        self.closure = None
        self.ladder = {}
