"""A child's case file: the one-open-case rule, duplicate triggers, and the end or reopening of an episode."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.casework.domain.case import Case
from services.casework.domain.errors import InvalidInput
from services.casework.domain.ids import child_cases_id_for

SOURCES = ("attendance", "census", "transfer", "transition", "report")
_LOCAL_CODE = re.compile(r"^\d{9}(\d{3})?$")


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


def business_time(meta: dict[str, Any]) -> datetime:
    """When the fact happened (meta["at"]), not when it was stored."""
    at = meta.get("at")
    if not at:
        raise InvalidInput("缺少业务发生时间", rule="meta_at_required")
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)


class ChildCases(Aggregate):
    """A child's case file: which case is open and which triggers were already handled."""

    @event("Started")
    def __init__(self, student_id: str, meta: dict[str, Any]) -> None:
        self.student_id = student_id
        self.meta = meta
        self.open_case_id: str | None = None
        self.handled: dict[str, str] = {}  # trigger id -> case id it opened or joined
        self.last_closed: dict[str, str] | None = None  # {"case_id", "reason"} of the last ended episode

    @staticmethod
    def create_id(student_id: str, **_: Any) -> uuid.UUID:
        return child_cases_id_for(student_id)

    def case_for_trigger(self, trigger_id: str) -> str | None:
        """The case a trigger opened or joined, if it was handled before."""
        return self.handled.get(trigger_id)

    def relapse_of(self) -> str | None:
        """The closed case a new trigger reopens: only one closed because the child had returned."""
        if self.open_case_id is None and self.last_closed and self.last_closed["reason"] == "returned":
            return self.last_closed["case_id"]
        return None

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

    def reopen(self, case_id: str, trigger_id: str, meta: dict[str, Any]) -> None:
        """The last closed case is open again (a relapse after 销号)."""
        self._episode_reopened(case_id=case_id, trigger_id=trigger_id, meta=meta)

    def end_episode(self, case_id: str, reason: str, meta: dict[str, Any]) -> None:
        """The open case was closed or excluded; the next trigger starts or reopens an episode."""
        if self.open_case_id == case_id:
            self._episode_ended(case_id=case_id, reason=reason, meta=meta)

    @event("EpisodeStarted")
    def _episode_started(self, case_id: str, trigger_id: str, meta: dict[str, Any]) -> None:
        self.open_case_id = case_id
        self.handled[trigger_id] = case_id

    @event("TriggerAttached")
    def _trigger_attached(self, trigger_id: str, case_id: str, meta: dict[str, Any]) -> None:
        self.handled[trigger_id] = case_id

    @event("EpisodeEnded")
    def _episode_ended(self, case_id: str, reason: str, meta: dict[str, Any]) -> None:
        self.open_case_id = None
        self.last_closed = {"case_id": case_id, "reason": reason}

    @event("EpisodeReopened")
    def _episode_reopened(self, case_id: str, trigger_id: str, meta: dict[str, Any]) -> None:
        self.open_case_id = case_id
        self.handled[trigger_id] = case_id
        self.last_closed = None
