"""依法控辍: return notice → correction order → legal documents → court referral, with durable deadlines.

Deadlines are timers kept in the case itself (so they survive anything the case survives); the
scheduler only finds due ones and asks the case to fire them, which it does at most once per timer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import event

from services.casework.domain import rules
from services.casework.domain.chain import ChainedAggregate
from services.casework.domain.codes import (
    LADDER,
    OVERRIDE_ROLES,
    STEP_LABELS,
    STEP_ROLES,
)
from services.casework.domain.errors import Conflict, InvalidInput
from services.casework.domain.ids import NAMESPACE

ON_MISSED = ("alert", "escalate")


def reminder_plan(due_at: datetime, remind_days: Iterable[int], set_at: datetime) -> list[dict[str, Any]]:
    """When a timer's owners are reminded before it falls due: N days before, for each configured N whose moment is
    still ahead when the timer is set (a deadline set two days ahead gets no three-day reminder). Kept in the timer,
    so the plan is as durable as the deadline and a later change of configuration does not rewrite history."""
    plan = []
    for days in sorted({int(d) for d in remind_days if int(d) > 0}, reverse=True):
        moment = due_at - timedelta(days=days)
        if moment > set_at:
            plan.append({"days_before": days, "at": moment.isoformat()})
    return plan


def next_reminder_at(timer: dict[str, Any]) -> datetime | None:
    """The moment of a pending timer's next reminder not yet sent (None: none left, or the timer is settled)."""
    if timer.get("status") != "pending":
        return None
    sent = set(timer.get("reminded") or [])
    moments = [datetime.fromisoformat(r["at"]) for r in timer.get("reminders") or [] if r["days_before"] not in sent]
    return min(moments, default=None)


class LadderMixin(ChainedAggregate):
    """The legal-escalation part of a case and the timers its deadlines run on."""

    def take_legal_step(self, step: str, document_no: str, addressee: str, deadline_at: datetime | None,
                        on_missed: str, evidence: list[dict[str, Any]], override_reason: str | None,
                        meta: dict[str, Any], automatic: bool = False, remind_days: Iterable[int] = ()) -> None:
        """A step needs the one before it, unless an allowed role overrides with a reason; its deadline's owners
        are reminded ``remind_days`` before it (``reminder_plan``)."""
        rules.require_stage(self.stage, "take_legal_step")
        if step not in LADDER:
            raise InvalidInput(f"依法控辍步骤无效: {step}", rule="ladder.step_code")
        if step in self.ladder:
            raise Conflict(f"本案件已{STEP_LABELS[step]}", rule="ladder.step_once")
        if not automatic:
            rules.require_actor_role(meta, STEP_ROLES[step], "ladder.step_role", STEP_LABELS[step])
        previous = LADDER[LADDER.index(step) - 1] if step != LADDER[0] else None
        override = None
        if previous is not None and previous not in self.ladder:
            if not (override_reason or "").strip():
                raise Conflict(f"须先完成「{STEP_LABELS[previous]}」，或由有权角色说明理由越级办理",
                               rule="ladder.previous_step_required")
            rules.require_actor_role(meta, OVERRIDE_ROLES, "ladder.override_role", "越级办理")
            override = {"skipped": previous, "reason": override_reason.strip(), "by": meta.get("actor_id"),  # type: ignore[union-attr]
                        "role": meta.get("actor_role")}
        timer = None
        if step != "court_referral":
            if deadline_at is None:
                raise InvalidInput(f"「{STEP_LABELS[step]}」须写明期限", rule="ladder.deadline_required")
            if deadline_at <= rules.at_of(meta):
                raise InvalidInput("期限须晚于发出时间", rule="ladder.deadline_after_issue")
            if on_missed not in ON_MISSED:
                raise InvalidInput("逾期处理方式须为 alert 或 escalate", rule="ladder.on_missed")
            timer = {"timer_id": str(uuid.uuid5(NAMESPACE, f"{self.id}:ladder:{step}:{self.relapses}")),
                     "kind": "ladder", "step": step, "due_at": deadline_at.isoformat(), "on_missed": on_missed,
                     "status": "pending", "reminders": reminder_plan(deadline_at, remind_days, rules.at_of(meta)),
                     "reminded": []}
        issue = {"return_notice": self._return_notice_issued, "correction_order": self._correction_order_issued,
                 "legal_documents": self._legal_documents_issued, "court_referral": self._court_referral_made}[step]
        issue(
            step=step, document_no=rules.require_text(document_no, "ladder.document_no", "文书编号"),
            addressee=rules.require_text(addressee, "ladder.addressee", "送达对象（监护人）"),
            deadline_at=deadline_at, timer=timer, override=override, automatic=automatic,
            evidence=rules.checked_evidence(evidence, required=False, rule="ladder.evidence"),
            cancelled_timers=self.pending_timers("ladder"), meta=meta,
        )

    # One event per step (issue 12); the generic LegalStepTaken stays only to replay stored history.
    @event("ReturnNoticeIssued")
    def _return_notice_issued(self, step: str, document_no: str, addressee: str, deadline_at: datetime | None,
                              timer: dict[str, Any] | None, override: dict[str, Any] | None, automatic: bool,
                              evidence: list[dict[str, Any]], cancelled_timers: list[str], meta: dict[str, Any]) -> None:
        self._apply_legal_step(step, document_no, addressee, deadline_at, timer, override, cancelled_timers, meta)

    @event("CorrectionOrderIssued")
    def _correction_order_issued(self, step: str, document_no: str, addressee: str, deadline_at: datetime | None,
                                 timer: dict[str, Any] | None, override: dict[str, Any] | None, automatic: bool,
                                 evidence: list[dict[str, Any]], cancelled_timers: list[str],
                                 meta: dict[str, Any]) -> None:
        self._apply_legal_step(step, document_no, addressee, deadline_at, timer, override, cancelled_timers, meta)

    @event("LegalDocumentsIssued")
    def _legal_documents_issued(self, step: str, document_no: str, addressee: str, deadline_at: datetime | None,
                                timer: dict[str, Any] | None, override: dict[str, Any] | None, automatic: bool,
                                evidence: list[dict[str, Any]], cancelled_timers: list[str],
                                meta: dict[str, Any]) -> None:
        self._apply_legal_step(step, document_no, addressee, deadline_at, timer, override, cancelled_timers, meta)

    @event("CourtReferralMade")
    def _court_referral_made(self, step: str, document_no: str, addressee: str, deadline_at: datetime | None,
                             timer: dict[str, Any] | None, override: dict[str, Any] | None, automatic: bool,
                             evidence: list[dict[str, Any]], cancelled_timers: list[str], meta: dict[str, Any]) -> None:
        self._apply_legal_step(step, document_no, addressee, deadline_at, timer, override, cancelled_timers, meta)

    @event("LegalStepTaken")
    def _legal_step_taken(self, step: str, document_no: str, addressee: str, deadline_at: datetime | None,
                          timer: dict[str, Any] | None, override: dict[str, Any] | None, automatic: bool,
                          evidence: list[dict[str, Any]], cancelled_timers: list[str], meta: dict[str, Any]) -> None:
        """Stored before issue 12: still replays; nothing new records it."""
        self._apply_legal_step(step, document_no, addressee, deadline_at, timer, override, cancelled_timers, meta)

    def _apply_legal_step(self, step: str, document_no: str, addressee: str, deadline_at: datetime | None,
                          timer: dict[str, Any] | None, override: dict[str, Any] | None, cancelled_timers: list[str],
                          meta: dict[str, Any]) -> None:
        self._cancel(cancelled_timers)
        if timer is not None:
            self.timers[timer["timer_id"]] = dict(timer)
        self.ladder[step] = {"document_no": document_no, "addressee": addressee, "at": meta.get("at"), "deadline_at": deadline_at,
                             "override": override, "by": meta.get("actor_id")}
        self.stage = "escalated"

    def fire_deadline(self, timer_id: str, now: datetime, meta: dict[str, Any]) -> bool:
        """Marks a due timer as passed; False when it already fired or no longer matters (exactly once)."""
        timer = self.timers.get(timer_id)
        if timer is None or timer["status"] != "pending":
            return False
        if now < datetime.fromisoformat(timer["due_at"]):
            raise Conflict("期限未到", rule="deadline.not_due")
        self._deadline_passed(timer_id=timer_id, kind=timer["kind"], step=timer["step"], due_at=timer["due_at"],
                              action=timer["on_missed"], meta=meta)
        return True

    @event("DeadlinePassed")
    def _deadline_passed(self, timer_id: str, kind: str, step: str | None, due_at: str, action: str,
                         meta: dict[str, Any]) -> None:
        self.timers[timer_id]["status"] = "fired"

    def remind_deadline(self, timer_id: str, now: datetime, meta: dict[str, Any]) -> bool:
        """Records that a pending timer's owners are reminded (``DeadlineApproaching``), once per planned reminder;
        False when none is due, all were sent, or the deadline itself is due (then it fires instead). Reminders
        that came due together (the scheduler was down, a simulated clock jumped) are one message: the nearest."""
        timer = self.timers.get(timer_id)
        if timer is None or timer["status"] != "pending" or now >= datetime.fromisoformat(timer["due_at"]):
            return False
        sent = set(timer.get("reminded") or [])
        due = [r["days_before"] for r in timer.get("reminders") or []
               if r["days_before"] not in sent and datetime.fromisoformat(r["at"]) <= now]
        if not due:
            return False
        self._deadline_approaching(timer_id=timer_id, kind=timer["kind"], step=timer["step"], due_at=timer["due_at"],
                                   days_before=min(due), covered=sorted(due), meta=meta)
        return True

    @event("DeadlineApproaching")
    def _deadline_approaching(self, timer_id: str, kind: str, step: str | None, due_at: str, days_before: int,
                              covered: list[int], meta: dict[str, Any]) -> None:
        timer = self.timers[timer_id]
        timer["reminded"] = sorted(set(timer.get("reminded") or []) | set(covered))

    def next_step(self) -> str | None:
        """The ladder step after the last one taken (None when the ladder is finished or not started)."""
        taken = [s for s in LADDER if s in self.ladder]
        if not taken or taken[-1] == LADDER[-1]:
            return None
        return LADDER[LADDER.index(taken[-1]) + 1]

    def pending_timers(self, kind: str | None = None) -> list[str]:
        return sorted(t for t, v in self.timers.items() if v["status"] == "pending" and kind in (None, v["kind"]))

    def _cancel(self, timer_ids: list[str]) -> None:
        for timer_id in timer_ids:
            if timer_id in self.timers:
                self.timers[timer_id]["status"] = "cancelled"
