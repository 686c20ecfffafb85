"""Casework use cases: load, act, save (or hand back to save with a tracking record), return plain data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from services.casework.domain import (
    Case,
    ChildCases,
    Conflict,
    NotFound,
    ResponsibilityMap,
    Trigger,
    case_id_for,
    child_cases_id_for,
    responsibility_map_id_for,
)
from services.casework.policy import CasePolicy
from services.casework.projections import (
    CaseSummary,
    CaseViews,
    MemoryCaseViews,
    QueueItem,
)
from services.casework.views import (  # noqa: F401
    CaseView,
    HistoryEntry,
    case_view,
    history_entry,
    to_contract,
)
from services.runtime.auth import system_actor
from services.runtime.eventstore import ServiceApplication

Outcome = Literal["opened", "attached", "duplicate"]
_SAVE_ATTEMPTS = 3
COMMANDS = frozenset({
    "start_verification", "conclude_not_dropout", "confirm_dropout", "reassign_owner", "record_home_visit",
    "record_persuasion", "record_help", "record_plan", "attach_evidence", "decide_closure", "exclude_from_count",
    "retract_trigger",
})


@dataclass(frozen=True)
class Opening:
    """What handling one trigger did, and the aggregates that record it (unsaved)."""

    outcome: Outcome
    case_id: str
    aggregates: list[Aggregate] = field(default_factory=list)


class CaseworkApp(ServiceApplication):
    """Casework's event-sourced application (schema ``casework``)."""

    name = "Casework"

    def __init__(self, env: Any = None, index: CaseViews | None = None, policy: CasePolicy | None = None) -> None:
        super().__init__(env)
        self.index: CaseViews = index or MemoryCaseViews()
        self.policy = policy or CasePolicy()

    # -- opening ------------------------------------------------------------------------------
    def open_from_suspected_dropout(self, *, detection_id: str, student_id: str, school_id: str, township_code: str,
                                    absent_days: list[date], rule: str, rule_version: int, threshold_days: int,
                                    meta: dict[str, Any]) -> list[Aggregate]:
        """Handles a 疑似辍学 detection; returns the aggregates to save atomically with the consumer's position."""
        trigger = Trigger(trigger_id=detection_id, source="attendance", student_id=student_id, school_id=school_id,
                          township_code=township_code,
                          evidence={"absent_days": list(absent_days), "rule": rule, "rule_version": rule_version,
                                    "threshold_days": threshold_days})
        return self.handle_trigger(trigger, meta).aggregates

    def report_case(self, *, report_id: str, student_id: str, township_code: str, school_id: str | None, note: str,
                    meta: dict[str, Any]) -> tuple[Outcome, Case]:
        """A person reports a child out of school; the same report again changes nothing."""
        trigger = Trigger(trigger_id=report_id, source="report", student_id=student_id, school_id=school_id,
                          township_code=township_code, evidence={"note": note})
        opening = self._retrying(lambda: self.handle_trigger(trigger, meta))
        return opening.outcome, self.case(UUID(opening.case_id))

    def handle_trigger(self, trigger: Trigger, meta: dict[str, Any]) -> Opening:
        """One open case per child episode: a new trigger opens one, joins the open one, reopens one closed after a
        return (relapse), or is a duplicate."""
        trigger.check()
        reused = self._get(Case, case_id_for(trigger.source, trigger.trigger_id))
        if reused is not None and reused.student_id != trigger.student_id:
            raise Conflict("该报告编号已用于其他学生", rule="trigger_id_unique")
        child = self._get(ChildCases, child_cases_id_for(trigger.student_id))
        if child is None:
            child = ChildCases(student_id=trigger.student_id, meta=meta)
        seen = child.case_for_trigger(trigger.trigger_id)
        if seen is not None:
            return Opening("duplicate", seen)
        relapsed = child.relapse_of()
        if relapsed is not None:
            closed = self.case(UUID(relapsed))
            closed.reopen(trigger_id=trigger.trigger_id, source=trigger.source, evidence=dict(trigger.evidence),
                          meta=meta)
            child.reopen(case_id=relapsed, trigger_id=trigger.trigger_id, meta=meta)
            return Opening("attached", relapsed, [child, closed])
        case = child.open_case_for(trigger, meta)
        if case is not None:
            self._assign_from_map(case, meta)
            return Opening("opened", str(case.id), [child, case])
        open_case = self._get(Case, UUID(child.open_case_id))
        if open_case is None:
            raise NotFound("在办案件不存在", rule="open_case_exists")
        open_case.join(trigger_id=trigger.trigger_id, source=trigger.source, evidence=dict(trigger.evidence),
                       meta=meta)
        return Opening("attached", str(open_case.id), [child, open_case])

    # -- acting on a case ---------------------------------------------------------------------
    def act(self, case_id: UUID, command: str, **kwargs: Any) -> Case:
        """Runs one case command (load, act, save); a closure or exclusion also ends the child's episode."""
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command}")
        return self.change(case_id, lambda case: getattr(case, command)(**kwargs))

    def change(self, case_id: UUID, act: Callable[[Case], Any]) -> Case:
        """Load, act, save, retried on a concurrent write; returns the case as saved."""

        def attempt() -> Case:
            case = self.case(case_id)
            act(case)
            return case

        def save(case: Case) -> None:
            self.save(case, *self._episode_effects(case))

        return self._retrying(attempt, save)

    def locate_home(self, case_id: UUID, village_code: str, group: str | None, meta: dict[str, Any]) -> Case:
        """The child's home is known: record it and fill the government-line owners it points to."""

        def act(case: Case) -> None:
            case.locate_home(village_code=village_code, group=group, meta=meta)
            self._assign_from_map(case, meta)

        return self.change(case_id, act)

    def assign_owners(self, case_id: UUID, meta: dict[str, Any]) -> Case:
        """Fills a case's empty owner slots from the current responsibility map."""
        return self.change(case_id, lambda case: self._assign_from_map(case, meta))

    def take_legal_step(self, case_id: UUID, *, step: str, document_no: str, addressee: str, deadline: date | None,
                        evidence: list[dict[str, Any]], override_reason: str | None, meta: dict[str, Any]) -> Case:
        """Issues a ladder step; its deadline (given, or the configured default) becomes a durable timer."""

        def act(case: Case) -> None:
            issued_at = _at(meta)
            day = deadline or self.policy.default_deadline(step, issued_at)
            case.take_legal_step(step=step, document_no=document_no, addressee=addressee,
                                 deadline_at=self.policy.end_of_day(day) if day else None,
                                 on_missed=self.policy.on_missed.get(step, "alert"), evidence=evidence,
                                 override_reason=override_reason, meta=meta)

        return self.change(case_id, act)

    def confirm_return(self, case_id: UUID, returned_on: date, evidence: list[dict[str, Any]],
                       meta: dict[str, Any]) -> Case:
        """A school confirms the child is back (复学)."""
        return self.change(case_id, lambda case: self._record_return(case, "school_confirmation", returned_on, None,
                                                                       evidence, meta))

    def return_from_attendance(self, *, student_id: str, day: date, detection_id: str | None,
                               meta: dict[str, Any]) -> list[Aggregate]:
        """Attendance saw the child back: the open case records the return (nothing when no case is open)."""
        child = self._get(ChildCases, child_cases_id_for(student_id))
        if child is None or child.open_case_id is None:
            return []
        case = self.case(UUID(child.open_case_id))
        if case.stage not in ("suspected", "verifying", "persuading", "escalated"):
            return []
        self._record_return(case, "attendance", day, detection_id or f"attendance:{day.isoformat()}", [], meta)
        return [case]

    def retract_detection(self, *, student_id: str, detection_id: str, reason: str,
                          meta: dict[str, Any]) -> list[Aggregate]:
        """The source withdrew a detection: an unverified case it alone supports closes, others are annotated."""
        child = self._get(ChildCases, child_cases_id_for(student_id))
        case_id = child.case_for_trigger(detection_id) if child is not None else None
        if case_id is None:
            return []
        case = self.case(UUID(case_id))
        if not case.retract_trigger(detection_id, reason, meta):
            return []
        return [case, *self._episode_effects(case)]

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
                    meta=meta, automatic=True)

        self.change(case_id, act)
        return fired["value"]

    # -- responsibility maps (双线四包) ----------------------------------------------------------
    def put_responsibilities(self, township_code: str, entries: list[dict[str, Any]], *, replace: bool, source: str,
                             meta: dict[str, Any]) -> ResponsibilityMap:
        def attempt() -> ResponsibilityMap:
            rmap = self.responsibility_map(township_code) or ResponsibilityMap(township_code=township_code, meta=meta)
            rmap.put(entries, replace=replace, source=source, meta=meta)
            return rmap

        return self._retrying(attempt, lambda m: self.save(m))

    def remove_responsibility(self, township_code: str, key: str, meta: dict[str, Any]) -> ResponsibilityMap:
        def attempt() -> ResponsibilityMap:
            rmap = self.responsibility_map(township_code)
            if rmap is None or not rmap.remove(key, meta):
                raise NotFound("责任表条目不存在", rule="map.entry_exists")
            return rmap

        return self._retrying(attempt, lambda m: self.save(m))

    def responsibility_map(self, township_code: str) -> ResponsibilityMap | None:
        return self._get(ResponsibilityMap, responsibility_map_id_for(township_code))

    # -- queries --------------------------------------------------------------------------------
    def case(self, case_id: UUID, version: int | None = None) -> Case:
        try:
            case = self.repository.get(case_id, version=version)
        except AggregateNotFoundError:
            case = None
        if not isinstance(case, Case):
            raise NotFound("案件不存在", rule="case_exists")
        return case

    def case_id_for_detection(self, detection_id: str) -> UUID:
        """The case an attendance detection opened (by its deterministic id)."""
        return case_id_for("attendance", detection_id)

    def case_history(self, case_id: UUID) -> list[HistoryEntry]:
        """Every stored event of a case in order (the audit record)."""
        self.case(case_id)
        return [history_entry(e) for e in self.events.get(case_id)]

    def case_as_of(self, case_id: UUID, *, version: int | None = None, at: datetime | None = None) -> Case:
        """The case as it was at a version, or as recorded at a past moment."""
        if at is not None:
            versions = [e.originator_version for e in self.events.get(case_id) if e.timestamp <= at]
            if not versions:
                raise NotFound("该时间点案件尚未建立", rule="case_existed_then")
            version = versions[-1] if version is None else min(version, versions[-1])
        return self.case(case_id, version=version)

    def cases_for_jurisdiction(self, prefix: str, *, stage: str | None = None, limit: int = 50,
                               after: tuple[datetime, str] | None = None) -> list[CaseSummary]:
        """Cases inside a jurisdiction code prefix, newest first, read from the case index after catching it up."""
        self.index.catch_up(self)
        return self.index.search(prefix, stage=stage, limit=limit, after=after)

    def queue(self, user_id: str, prefix: str, limit: int = 100) -> list[QueueItem]:
        """An owner's open cases inside a jurisdiction, due actions first."""
        self.index.catch_up(self)
        return self.index.queue(user_id, prefix, limit=limit)

    # -- helpers --------------------------------------------------------------------------------
    def _record_return(self, case: Case, source: str, day: date, reference: str | None,
                       evidence: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        until = day + timedelta(days=self.policy.follow_up_days)
        case.record_return(source=source, returned_on=day, reference=reference, follow_up_until=until,
                           follow_up_due_at=self.policy.end_of_day(until - timedelta(days=1)), evidence=evidence,
                           meta=meta)

    def _assign_from_map(self, case: Case, meta: dict[str, Any]) -> list[str]:
        rmap = self.responsibility_map(case.township_code)
        if rmap is None:
            return []
        home = case.home or {}
        found = rmap.owners_for(student_id=case.student_id, school_id=case.school_id,
                                village_code=home.get("village_code") or _village(case.township_code),
                                group=home.get("group"))
        return case.assign_owners(found, meta)

    def _episode_effects(self, case: Case) -> list[Aggregate]:
        if case.stage not in ("closed", "excluded"):
            return []
        child = self._get(ChildCases, child_cases_id_for(case.student_id))
        if child is None or child.open_case_id != str(case.id):
            return []
        reason = (case.closure or {}).get("reason") if case.stage == "closed" else "excluded_from_count"
        child.end_episode(str(case.id), reason, case.pending_events[-1].meta if case.pending_events else case.meta)
        return [child]

    def _retrying(self, attempt: Callable[[], Any], save: Callable[[Any], None] | None = None) -> Any:
        for n in range(1, _SAVE_ATTEMPTS + 1):
            result = attempt()
            try:
                if save is None:
                    self.save(*result.aggregates)
                else:
                    save(result)
            except IntegrityError:
                if n == _SAVE_ATTEMPTS:
                    raise Conflict("案件正被同时修改，请稍后重试", rule="concurrent_change") from None
                continue
            return result
        raise AssertionError("unreachable")

    def _get(self, cls: type, aggregate_id: UUID) -> Any:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None


def _at(meta: dict[str, Any]) -> datetime:
    at = meta["at"]
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)


def _village(code: str) -> str | None:
    return code if len(code) == 12 else None
