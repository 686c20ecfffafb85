"""Work records (三细三实): home visits, persuasion attempts, help given, the case plan and evidence.

Each is an event with its actor and time; a client-chosen record id makes a retried request harmless.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from eventsourcing.domain import event

from services.casework.domain import rules
from services.casework.domain.chain import ChainedAggregate
from services.casework.domain.codes import (
    HELP_TYPES,
    PERSUASION_METHODS,
    PERSUASION_OUTCOMES,
    PERSUASION_PLACES,
    RELATIONS,
)
from services.casework.domain.errors import InvalidInput


class WorkRecordsMixin(ChainedAggregate):
    """What the owners did for the child, recorded as it happened."""

    def has_record(self, record_id: str) -> bool:
        return any(r["record_id"] == record_id for r in self.records)

    def record_home_visit(self, record_id: str, visited_at: datetime, visitors: list[str], met: list[str],
                          findings: str, evidence: list[dict[str, Any]], meta: dict[str, Any]) -> bool:
        """家访: who went, when, whom they met, what they found."""
        if self.has_record(record_id):
            return False
        rules.require_stage(self.stage, "record_work")
        if not visitors:
            raise InvalidInput("须填写走访人员", rule="visit.visitors_required")
        self._home_visit_recorded(
            record_id=record_id, visited_at=visited_at, visitors=list(visitors), met=list(met),
            findings=rules.require_text(findings, "visit.findings_required", "走访情况"),
            evidence=rules.checked_evidence(evidence, required=False, rule="visit.evidence"), meta=meta)
        return True

    @event("HomeVisitRecorded")
    def _home_visit_recorded(self, record_id: str, visited_at: datetime, visitors: list[str], met: list[str],
                             findings: str, evidence: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        self._note("home_visit", record_id, meta)

    def record_persuasion(self, record_id: str, method: str, outcome: str, note: str, meta: dict[str, Any],
                          persuaders: list[str] | None = None, place: str | None = None,
                          with_whom: list[str] | None = None) -> bool:
        """劝返: how the owners tried, who (user ids besides the recorder), where, with whom, and what came of it."""
        if self.has_record(record_id):
            return False
        rules.require_stage(self.stage, "record_work")
        rules.require_code(method, PERSUASION_METHODS, "persuasion.method", "劝返方式")
        rules.require_code(outcome, PERSUASION_OUTCOMES, "persuasion.outcome", "劝返结果")
        if place is not None:
            rules.require_code(place, PERSUASION_PLACES, "persuasion.place", "劝返地点")
        for relation in with_whom or []:
            rules.require_code(relation, RELATIONS, "persuasion.with_whom", "劝返对象")
        if any(len(p) > 128 for p in persuaders or []):
            raise InvalidInput("劝返人员须为平台用户编号（不超过128个字符）", rule="persuasion.persuaders")
        recorder = meta.get("actor_id")
        who = [recorder] if recorder else []
        who += [p.strip() for p in persuaders or [] if p and p.strip() and p.strip() not in who]
        self._persuasion_attempted(record_id=record_id, method=method, outcome=outcome,
                                   note=rules.require_text(note, "persuasion.note_required", "劝返过程"), meta=meta,
                                   persuaders=who, place=place, with_whom=sorted(set(with_whom or [])))
        return True

    @event("PersuasionAttempted")
    def _persuasion_attempted(self, record_id: str, method: str, outcome: str, note: str,
                              meta: dict[str, Any], persuaders: list[str] | None = None, place: str | None = None,
                              with_whom: list[str] | None = None) -> None:
        self._note("persuasion", record_id, meta, outcome=outcome)

    def record_help(self, record_id: str, help_type: str, detail: str, amount_yuan: float | None,
                    meta: dict[str, Any]) -> bool:
        """帮扶: aid, subsidies, nutrition, counselling, pairing."""
        if self.has_record(record_id):
            return False
        rules.require_stage(self.stage, "record_work")
        rules.require_code(help_type, HELP_TYPES, "help.type", "帮扶类型")
        if amount_yuan is not None and amount_yuan < 0:
            raise InvalidInput("金额不能为负", rule="help.amount")
        self._help_given(record_id=record_id, help_type=help_type,
                         detail=rules.require_text(detail, "help.detail_required", "帮扶内容"),
                         amount_yuan=amount_yuan, meta=meta)
        return True

    @event("HelpGiven")
    def _help_given(self, record_id: str, help_type: str, detail: str, amount_yuan: float | None,
                    meta: dict[str, Any]) -> None:
        self._note("help", record_id, meta, help_type=help_type)

    def record_plan(self, record_id: str, measures: list[str], target_return_on: date | None,
                    meta: dict[str, Any]) -> bool:
        """一人一案: the plan for this child (a newer plan supersedes the last)."""
        if self.has_record(record_id):
            return False
        rules.require_stage(self.stage, "record_work")
        measures = [m.strip() for m in measures if m and m.strip()]
        if not measures:
            raise InvalidInput("方案须至少包含一项措施", rule="plan.measures_required")
        self._plan_recorded(record_id=record_id, measures=measures, target_return_on=target_return_on, meta=meta,
                            plan_version=(self.plan or {}).get("version", 0) + 1)
        return True

    @event("PlanRecorded")
    def _plan_recorded(self, record_id: str, measures: list[str], target_return_on: date | None,
                       meta: dict[str, Any], plan_version: int | None = None) -> None:
        version = plan_version or (self.plan or {}).get("version", 0) + 1
        self.plan = {"version": version, "measures": measures, "target_return_on": target_return_on,
                     "at": meta.get("at")}
        self._note("plan", record_id, meta)

    def attach_evidence(self, record_id: str, evidence: list[dict[str, Any]], note: str,
                        meta: dict[str, Any]) -> bool:
        """Material (photos, signed receipts, certificates) referenced by hash and storage location."""
        if self.has_record(record_id):
            return False
        rules.require_stage(self.stage, "record_work")
        proof = rules.checked_evidence(evidence, required=True, rule="evidence.required")
        self._evidence_attached(record_id=record_id, evidence=proof, note=note, meta=meta)
        return True

    @event("EvidenceAttached")
    def _evidence_attached(self, record_id: str, evidence: list[dict[str, Any]], note: str,
                           meta: dict[str, Any]) -> None:
        self._note("evidence", record_id, meta)

    def _note(self, kind: str, record_id: str, meta: dict[str, Any], **extra: Any) -> None:
        self.records.append({"kind": kind, "record_id": record_id, "at": meta.get("at"),
                             "actor_id": meta.get("actor_id"), **extra})
