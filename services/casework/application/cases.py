"""Acting on a case: commands (load, act, save, retried), home and owners, the legal ladder, return, closure,
and timers that fire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from services.casework.application.base import CaseStore, at_of
from services.casework.application.owners import OwnerUseCases
from services.casework.domain import Case, ChildCases, child_cases_id_for
from services.casework.domain.ladder import next_reminder_at
from services.casework.domain.policy import CasePolicy
from services.runtime.auth import system_actor

COMMANDS = frozenset({
    "start_verification", "conclude_not_dropout", "confirm_dropout", "reassign_owner", "record_home_visit",
    "record_persuasion", "record_help", "record_plan", "attach_evidence", "decide_closure", "exclude_from_count",
    "retract_trigger",
})


class CaseUseCases:
    """Every change to an existing case goes through ``change``: a closure or exclusion also ends the episode."""

    def __init__(self, store: CaseStore, owners: OwnerUseCases, policy: CasePolicy) -> None:
        self.store = store
        self.owners = owners
        self.policy = policy

    def act(self, case_id: UUID, command: str, **kwargs: Any) -> Case:
        """Runs one case command (load, act, save); a closure or exclusion also ends the child's episode."""
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command}")
        return self.change(case_id, lambda case: getattr(case, command)(**kwargs))

    def change(self, case_id: UUID, act: Callable[[Case], Any]) -> Case:
        """Load, act, save, retried on a concurrent write; returns the case as saved."""

        def attempt() -> Case:
            case = self.store.case(case_id)
            act(case)
            return case

        def save(case: Case) -> None:
            self.store.save(case, *self.store.episode_effects(case))

        return self.store.retrying(attempt, save)

    def locate_home(self, case_id: UUID, village_code: str, group: str | None, meta: dict[str, Any]) -> Case:
        """The child's home is known: record it and fill the government-line owners it points to."""

        def act(case: Case) -> None:
            case.locate_home(village_code=village_code, group=group, meta=meta)
            self.owners.assign_from_map(case, meta)

        return self.change(case_id, act)

    def assign_owners(self, case_id: UUID, meta: dict[str, Any]) -> Case:
        """Fills a case's empty owner slots from the current responsibility map (and the registry's placement)."""
        return self.change(case_id, lambda case: self.owners.assign_from_map(case, meta))

    def take_legal_step(self, case_id: UUID, *, step: str, document_no: str, addressee: str, deadline: date | None,
                        evidence: list[dict[str, Any]], override_reason: str | None, meta: dict[str, Any]) -> Case:
        """Issues a ladder step; its deadline (given, or the configured default) becomes a durable timer."""

        def act(case: Case) -> None:
            issued_at = at_of(meta)
            day = deadline or self.policy.default_deadline(step, issued_at)
            case.take_legal_step(step=step, document_no=document_no, addressee=addressee,
                                 deadline_at=self.policy.end_of_day(day) if day else None,
                                 on_missed=self.policy.on_missed.get(step, "alert"), evidence=evidence,
                                 override_reason=override_reason, meta=meta, remind_days=self.policy.reminder_days)

        return self.change(case_id, act)

    def confirm_return(self, case_id: UUID, returned_on: date, evidence: list[dict[str, Any]],
                       meta: dict[str, Any]) -> Case:
        """A school confirms the child is back (复学)."""
        return self.change(case_id, lambda case: self._record_return(case, "school_confirmation", returned_on, None,
                                                                       evidence, meta))

    def return_from_attendance(self, *, student_id: str, day: date, detection_id: str | None,
                               meta: dict[str, Any]) -> list[Aggregate]:
        """Attendance saw the child back: the open case records the return (nothing when no case is open)."""
        child = self.store.get(ChildCases, child_cases_id_for(student_id))
        if child is None or child.open_case_id is None:
            return []
        case = self.store.case(UUID(child.open_case_id))
        if case.stage not in ("suspected", "verifying", "persuading", "escalated"):
            return []
        self._record_return(case, "attendance", day, detection_id or f"attendance:{day.isoformat()}", [], meta)
        return [case]

    def close_case(self, case_id: UUID, *, reason: str, evidence: list[dict[str, Any]], note: str,
                   meta: dict[str, Any]) -> Case:
        """销号 with a reason and evidence; where configured, the county bureau approves it first."""
        return self.change(case_id, lambda case: case.close(
            reason=reason, evidence=evidence, note=note,
            approval_required=self.policy.approval_required(case.township_code), meta=meta))

    def fire_deadline(self, case_id: UUID, timer_id: str, now: datetime) -> bool:
        """A due timer fires once; a ladder deadline configured to escalate takes the next step itself."""
        fired = {"value": False}

        def act(case: Case) -> None:
            meta = system_actor("casework", case.township_code).meta(correlation_id=f"timer:{timer_id}", at=now)
            fired["value"] = case.fire_deadline(timer_id, now, meta)
            timer = case.timers.get(timer_id, {})
            step = case.next_step()
            if fired["value"] and timer.get("kind") == "ladder" and timer.get("on_missed") == "escalate" and step:
                previous = case.ladder[timer["step"]]
                day = self.policy.default_deadline(step, now)
                case.take_legal_step(step=step, document_no=f"AUTO-{timer_id[:8]}", addressee=previous.get(
                    "addressee") or "监护人", deadline_at=self.policy.end_of_day(day) if day else None,
                    on_missed=self.policy.on_missed.get(step, "alert"), evidence=[], override_reason=None,
                    meta=meta, automatic=True, remind_days=self.policy.reminder_days)

        self.change(case_id, act)
        return fired["value"]

    def remind_deadline(self, case_id: UUID, timer_id: str, now: datetime) -> tuple[bool, datetime | None]:
        """A pending timer's owners are reminded before it falls due (at most once per planned reminder); returns
        whether this call recorded the reminder and when the timer's next reminder is due."""
        result: dict[str, Any] = {"sent": False, "next": None}

        def act(case: Case) -> None:
            meta = system_actor("casework", case.township_code).meta(correlation_id=f"reminder:{timer_id}", at=now)
            result["sent"] = case.remind_deadline(timer_id, now, meta)
            result["next"] = next_reminder_at(case.timers.get(timer_id) or {})

        self.change(case_id, act)
        return result["sent"], result["next"]

    def _record_return(self, case: Case, source: str, day: date, reference: str | None,
                       evidence: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        until = day + timedelta(days=self.policy.follow_up_days)
        case.record_return(source=source, returned_on=day, reference=reference, follow_up_until=until,
                           follow_up_due_at=self.policy.end_of_day(until - timedelta(days=1)), evidence=evidence,
                           meta=meta, remind_days=self.policy.reminder_days)
