"""Casework use cases: load, act, save (or hand back to save with a tracking record), return plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from contracts import Contract
from contracts.events import CaseOpenedV1
from services.casework.domain import (
    Case,
    ChildCases,
    Conflict,
    NotFound,
    Trigger,
    case_id_for,
    child_cases_id_for,
)
from services.casework.projections import CaseIndex, CaseSummary, MemoryCaseIndex
from services.runtime.eventstore import ServiceApplication

Outcome = Literal["opened", "attached", "duplicate"]
_SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class Opening:
    """What handling one trigger did, and the aggregates that record it (unsaved)."""

    outcome: Outcome
    case_id: str
    aggregates: list[Aggregate] = field(default_factory=list)


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


class CaseworkApp(ServiceApplication):
    """Casework's event-sourced application (schema ``casework``)."""

    name = "Casework"

    def __init__(self, env: Any = None, index: CaseIndex | None = None) -> None:
        super().__init__(env)
        self.index: CaseIndex = index or MemoryCaseIndex()

    # -- commands -------------------------------------------------------------------------
    def open_from_suspected_dropout(
        self,
        *,
        detection_id: str,
        student_id: str,
        school_id: str,
        township_code: str,
        absent_days: list[date],
        rule: str,
        rule_version: int,
        threshold_days: int,
        meta: dict[str, Any],
    ) -> list[Aggregate]:
        """Handles a 疑似辍学 detection; returns the aggregates to save atomically with the consumer's position."""
        trigger = Trigger(
            trigger_id=detection_id,
            source="attendance",
            student_id=student_id,
            school_id=school_id,
            township_code=township_code,
            evidence={
                "absent_days": list(absent_days),
                "rule": rule,
                "rule_version": rule_version,
                "threshold_days": threshold_days,
            },
        )
        return self.handle_trigger(trigger, meta).aggregates

    def report_case(
        self,
        *,
        report_id: str,
        student_id: str,
        township_code: str,
        school_id: str | None,
        note: str,
        meta: dict[str, Any],
    ) -> tuple[Outcome, Case]:
        """A person reports a child out of school; the same report again changes nothing."""
        trigger = Trigger(
            trigger_id=report_id,
            source="report",
            student_id=student_id,
            school_id=school_id,
            township_code=township_code,
            evidence={"note": note},
        )
        for attempt in range(1, _SAVE_ATTEMPTS + 1):
            opening = self.handle_trigger(trigger, meta)
            try:
                self.save(*opening.aggregates)
            except IntegrityError:
                if attempt == _SAVE_ATTEMPTS:
                    raise Conflict("案件正被同时修改，请稍后重试", rule="concurrent_change") from None
                continue
            return opening.outcome, self.case(UUID(opening.case_id))
        raise AssertionError("unreachable")

    def handle_trigger(self, trigger: Trigger, meta: dict[str, Any]) -> Opening:
        """One open case per child episode: a new trigger opens one, joins the open one, or is a duplicate."""
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
        case = child.open_case_for(trigger, meta)
        if case is not None:
            return Opening("opened", str(case.id), [child, case])
        open_case = self._get(Case, UUID(child.open_case_id))
        if open_case is None:
            raise NotFound("在办案件不存在", rule="open_case_exists")
        open_case.attach_trigger(
            trigger_id=trigger.trigger_id, source=trigger.source, evidence=dict(trigger.evidence), meta=meta
        )
        return Opening("attached", str(open_case.id), [child, open_case])

    # -- queries --------------------------------------------------------------------------
    def case(self, case_id: UUID) -> Case:
        case = self._get(Case, case_id)
        if case is None:
            raise NotFound("案件不存在", rule="case_exists")
        return case

    def case_history(self, case_id: UUID) -> list[HistoryEntry]:
        """Every stored event of a case in order (the start of the audit record)."""
        self.case(case_id)
        return [history_entry(e) for e in self.events.get(case_id)]

    def cases_for_jurisdiction(
        self,
        prefix: str,
        *,
        stage: str | None = None,
        limit: int = 50,
        after: tuple[datetime, str] | None = None,
    ) -> list[CaseSummary]:
        """Cases inside a jurisdiction code prefix, newest first, read from the case index after catching it up."""
        self.index.catch_up(self)
        return self.index.search(prefix, stage=stage, limit=limit, after=after)

    def _get(self, cls: type, aggregate_id: UUID) -> Any:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None


def case_view(case: Case) -> CaseView:
    return CaseView(
        case_id=str(case.id),
        student_id=case.student_id,
        school_id=case.school_id,
        township_code=case.township_code,
        source=case.source,
        stage=case.stage,
        trigger_id=case.trigger_id,
        trigger_ids=list(case.trigger_ids),
        evidence=dict(case.evidence),
        opened_at=case.opened_at,
        version=case.version,
    )


_ENVELOPE_FIELDS = {"originator_id", "originator_version", "timestamp", "meta", "originator_topic"}


def history_entry(domain_event: Any) -> HistoryEntry:
    meta = getattr(domain_event, "meta", None) or {}
    data = {k: v for k, v in domain_event.__dict__.items() if k not in _ENVELOPE_FIELDS}
    return HistoryEntry(
        version=domain_event.originator_version,
        event=type(domain_event).__name__,
        at=meta.get("at"),
        recorded_at=domain_event.timestamp,
        actor_id=meta.get("actor_id"),
        actor_role=meta.get("actor_role"),
        jurisdiction=meta.get("jurisdiction"),
        correlation_id=meta.get("correlation_id"),
        causation_id=meta.get("causation_id"),
        data=data,
    )


def to_contract(domain_event: Any) -> Contract | None:
    """Maps stored casework events to public contracts; a child's case file stays internal."""
    if isinstance(domain_event, Case.Opened):
        return CaseOpenedV1(
            case_id=str(domain_event.originator_id),
            student_id=domain_event.student_id,
            school_id=domain_event.school_id,
            township_code=domain_event.township_code,
            source=domain_event.source,
            trigger_id=domain_event.trigger_id,
            opened_at=domain_event.opened_at,
        )
    return None
