"""Casework domain: one case per child episode (一人一案). Pure: no I/O, no settings."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("0c5a1f4e-7d1b-4e5a-8a1c-3f2e9b6d4c02")
SOURCES = ("attendance", "census", "transfer", "transition", "report")
STAGES = ("suspected",)  # the full issue adds verifying, persuading, escalated, returned, closed
_LOCAL_CODE = re.compile(r"^\d{9}(\d{3})?$")


class CaseworkError(Exception):
    """A casework rule was broken; ``rule`` names it for the caller."""

    code = "casework_rule"

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule


class InvalidInput(CaseworkError):
    code = "invalid_input"


class Conflict(CaseworkError):
    code = "conflict"


class NotFound(CaseworkError):
    code = "not_found"


@dataclass(frozen=True)
class Trigger:
    """Why someone suspects a child is out of school (a detection, a report), with its evidence."""

    trigger_id: str
    source: str
    student_id: str
    school_id: str | None
    township_code: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Rules every trigger must meet before it can open or join a case."""
        if self.source not in SOURCES:
            raise InvalidInput(f"案件来源无效: {self.source}", rule="case_source")
        if not self.trigger_id or not self.student_id:
            raise InvalidInput("触发编号和学生编号不能为空", rule="trigger_identified")
        if not _LOCAL_CODE.match(self.township_code):
            raise InvalidInput("案件须归属到乡镇(9位)或村(12位)行政区划代码", rule="case_township_code")


def case_id_for(source: str, trigger_id: str) -> uuid.UUID:
    """Deterministic case id: the same trigger can never open two cases, even across children."""
    return uuid.uuid5(NAMESPACE, f"case:{source}:{trigger_id}")


def child_cases_id_for(student_id: str) -> uuid.UUID:
    """Deterministic id of a child's case file: every open for one child meets on one aggregate."""
    return uuid.uuid5(NAMESPACE, f"child:{student_id}")


def business_time(meta: dict[str, Any]) -> datetime:
    """When the fact happened (meta["at"]), not when it was stored."""
    at = meta.get("at")
    if not at:
        raise InvalidInput("缺少业务发生时间", rule="meta_at_required")
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)


class Case(Aggregate):
    """One child's case for one episode of being out of school; it starts at the suspected stage."""

    @event("Opened")
    def __init__(
        self,
        student_id: str,
        school_id: str | None,
        township_code: str,
        source: str,
        trigger_id: str,
        evidence: dict[str, Any],
        opened_at: datetime,
        meta: dict[str, Any],
    ) -> None:
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

    @staticmethod
    def create_id(source: str, trigger_id: str, **_: Any) -> uuid.UUID:
        return case_id_for(source, trigger_id)

    @event("TriggerAttached")
    def attach_trigger(self, trigger_id: str, source: str, evidence: dict[str, Any], meta: dict[str, Any]) -> None:
        """A further detection or report about the same episode joins the open case as evidence."""
        self.trigger_ids.append(trigger_id)


class ChildCases(Aggregate):
    """A child's case file: which case is open and which triggers were already handled."""

    @event("Started")
    def __init__(self, student_id: str, meta: dict[str, Any]) -> None:
        self.student_id = student_id
        self.meta = meta
        self.open_case_id: str | None = None
        self.handled: dict[str, str] = {}  # trigger id -> case id it opened or joined

    @staticmethod
    def create_id(student_id: str, **_: Any) -> uuid.UUID:
        return child_cases_id_for(student_id)

    def case_for_trigger(self, trigger_id: str) -> str | None:
        """The case a trigger opened or joined, if it was handled before."""
        return self.handled.get(trigger_id)

    def open_case_for(self, trigger: Trigger, meta: dict[str, Any]) -> Case | None:
        """Opens a case for a new episode; None when the trigger was seen or joins the open case."""
        trigger.check()
        if trigger.student_id != self.student_id:
            raise InvalidInput("触发信息与学生不符", rule="trigger_for_this_child")
        if trigger.trigger_id in self.handled:
            return None
        if self.open_case_id is not None:
            self._trigger_attached(trigger_id=trigger.trigger_id, case_id=self.open_case_id, meta=meta)
            return None
        case = Case(
            student_id=trigger.student_id,
            school_id=trigger.school_id,
            township_code=trigger.township_code,
            source=trigger.source,
            trigger_id=trigger.trigger_id,
            evidence=dict(trigger.evidence),
            opened_at=business_time(meta),
            meta=meta,
        )
        self._episode_started(case_id=str(case.id), trigger_id=trigger.trigger_id, meta=meta)
        return case

    @event("EpisodeStarted")
    def _episode_started(self, case_id: str, trigger_id: str, meta: dict[str, Any]) -> None:
        self.open_case_id = case_id
        self.handled[trigger_id] = case_id

    @event("TriggerAttached")
    def _trigger_attached(self, trigger_id: str, case_id: str, meta: dict[str, Any]) -> None:
        self.handled[trigger_id] = case_id
