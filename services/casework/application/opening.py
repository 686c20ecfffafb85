"""Opening use cases: a trigger (attendance detection, registry finding, a person's report) opens, joins or
reopens the child's one case; a trigger its source withdrew closes or annotates it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

from services.casework.application.base import CaseStore
from services.casework.application.owners import OwnerUseCases
from services.casework.domain import (
    Case,
    ChildCases,
    Conflict,
    Forbidden,
    NotFound,
    Trigger,
    case_id_for,
    child_cases_id_for,
)

Outcome = Literal["opened", "attached", "duplicate"]
FINDING_SOURCES = ("census", "transfer", "transition")


@dataclass(frozen=True)
class Opening:
    """What handling one trigger did, and the aggregates that record it (unsaved)."""

    outcome: Outcome
    case_id: str
    aggregates: list[Aggregate] = field(default_factory=list)


class OpeningUseCases:
    """One open case per child episode, whatever the trigger and however often it arrives."""

    def __init__(self, store: CaseStore, owners: OwnerUseCases) -> None:
        self.store = store
        self.owners = owners

    def open_from_suspected_dropout(self, *, detection_id: str, student_id: str, school_id: str, township_code: str,
                                    absent_days: list[date], rule: str, rule_version: int, threshold_days: int,
                                    meta: dict[str, Any]) -> list[Aggregate]:
        """Handles a 疑似辍学 detection; returns the aggregates to save atomically with the consumer's position."""
        trigger = Trigger(trigger_id=detection_id, source="attendance", student_id=student_id, school_id=school_id,
                          township_code=township_code,
                          evidence={"absent_days": list(absent_days), "rule": rule, "rule_version": rule_version,
                                    "threshold_days": threshold_days})
        return self.handle_trigger(trigger, meta).aggregates

    def open_from_finding(self, *, source: str, finding_id: str, student_id: str, school_id: str | None,
                          township_code: str, evidence: dict[str, Any], meta: dict[str, Any]) -> list[Aggregate]:
        """A registry comparison found the child (census, lost transfer, missed 小升初): opens or joins the case."""
        if source not in FINDING_SOURCES:
            raise ValueError(f"not a registry finding source: {source}")
        trigger = Trigger(trigger_id=finding_id, source=source, student_id=student_id, school_id=school_id,
                          township_code=township_code, evidence=dict(evidence))
        return self.handle_trigger(trigger, meta).aggregates

    def report_case(self, *, report_id: str, student_id: str, township_code: str, school_id: str | None, note: str,
                    meta: dict[str, Any]) -> tuple[Outcome, Case]:
        """A person reports a child out of school; the same report again changes nothing."""
        self._check_report_jurisdiction(student_id, township_code)
        trigger = Trigger(trigger_id=report_id, source="report", student_id=student_id, school_id=school_id,
                          township_code=township_code, evidence={"note": note})
        opening = self.store.retrying(lambda: self.handle_trigger(trigger, meta))
        return opening.outcome, self.store.case(UUID(opening.case_id))

    def _check_report_jurisdiction(self, student_id: str, township_code: str) -> None:
        """A report stays in the county of the child's own registration and of the child's open case (403 if not)."""
        county = township_code[:6]
        placement = self.owners.placement(student_id)
        if placement is not None and placement.active and not placement.township_code.startswith(county):
            raise Forbidden("该儿童的学籍不在所报告的县（区），请由学籍所在县（区）报告 "
                            "(child registered in another county)", rule="report.child_registered_elsewhere")
        child = self.store.get(ChildCases, child_cases_id_for(student_id))
        current = child and (child.open_case_id or child.relapse_of())
        case = self.store.get(Case, UUID(current)) if current else None
        if case is not None and not case.township_code.startswith(county):
            raise Forbidden("该儿童已有在其他县（区）办理的案件 (the child's case is handled in another county)",
                            rule="report.case_elsewhere")

    def handle_trigger(self, trigger: Trigger, meta: dict[str, Any]) -> Opening:
        """One open case per child episode: a new trigger opens one, joins the open one, reopens one closed after a
        return (relapse), or is a duplicate."""
        trigger.check()
        reused = self.store.get(Case, case_id_for(trigger.source, trigger.trigger_id))
        if reused is not None and reused.student_id != trigger.student_id:
            raise Conflict("该报告编号已用于其他学生", rule="trigger_id_unique")
        child = self.store.get(ChildCases, child_cases_id_for(trigger.student_id))
        if child is None:
            child = ChildCases(student_id=trigger.student_id, meta=meta)
        seen = child.case_for_trigger(trigger.trigger_id)
        if seen is not None:
            return Opening("duplicate", seen)
        relapsed = child.relapse_of()
        if relapsed is not None:
            closed = self.store.case(UUID(relapsed))
            closed.reopen(trigger_id=trigger.trigger_id, source=trigger.source, evidence=dict(trigger.evidence),
                          meta=meta)
            child.reopen(case_id=relapsed, trigger_id=trigger.trigger_id, meta=meta)
            return Opening("attached", relapsed, [child, closed])
        case = child.open_case_for(trigger, meta)
        if case is not None:
            self.owners.assign_from_map(case, meta)
            return Opening("opened", str(case.id), [child, case])
        open_case = self.store.get(Case, UUID(child.open_case_id))
        if open_case is None:
            raise NotFound("在办案件不存在", rule="open_case_exists")
        open_case.join(trigger_id=trigger.trigger_id, source=trigger.source, evidence=dict(trigger.evidence),
                       meta=meta)
        return Opening("attached", str(open_case.id), [child, open_case])

    # -- a source withdraws its trigger ---------------------------------------------------------
    def retract_detection(self, *, student_id: str, detection_id: str, reason: str,
                          meta: dict[str, Any]) -> list[Aggregate]:
        """The source withdrew a detection: an unverified case it alone supports closes, others are annotated."""
        return self.withdraw_trigger(student_id=student_id, trigger_id=detection_id, reason=reason, meta=meta)

    def retract_finding(self, *, student_id: str, finding_id: str, reason_code: str, evidence: list[dict[str, Any]],
                        meta: dict[str, Any]) -> list[Aggregate]:
        """The registry withdrew a finding (its latest identification): closes an unverified case it alone
        opened, with the reason code and the retraction as evidence; otherwise annotates the case."""
        child = self.store.get(ChildCases, child_cases_id_for(student_id))
        if child is None:
            return []
        handled = [t for t in child.handled if t == finding_id or t.startswith(f"{finding_id}{REIDENTIFIED}")]
        if not handled:
            return []
        return self.withdraw_trigger(student_id=student_id, trigger_id=handled[-1], meta=meta,
                                     reason=f"学籍比对结果撤销（{reason_code}）", reason_code=reason_code,
                                     evidence=evidence)

    def withdraw_trigger(self, *, student_id: str, trigger_id: str, reason: str, meta: dict[str, Any],
                         reason_code: str | None = None,
                         evidence: list[dict[str, Any]] | None = None) -> list[Aggregate]:
        """Records a retraction on the case the trigger went to (nothing when unknown or already recorded)."""
        child = self.store.get(ChildCases, child_cases_id_for(student_id))
        case_id = child.case_for_trigger(trigger_id) if child is not None else None
        if case_id is None:
            return []
        case = self.store.case(UUID(case_id))
        if not case.retract_trigger(trigger_id, reason, meta, reason_code=reason_code, evidence=evidence):
            return []
        return [case, *self.store.episode_effects(case)]


REIDENTIFIED = ":v"


def finding_trigger_id(finding_id: str, registry_version: int) -> str:
    """A finding's first identification is its id; a re-identification after a retraction (the registry's later
    version of the same finding) is a new trigger, so the child's new episode is not mistaken for a duplicate."""
    return finding_id if registry_version <= 1 else f"{finding_id}{REIDENTIFIED}{registry_version}"
