"""Read models of casework's own events: the case index (lists), owners' work queues and the due-timer
table the scheduler fires from. All derived and rebuildable.

They follow the service's notification log from a stored position, in batches: each batch names the
cases it touched, and each touched case's rows are rewritten from the case's current state (version
guarded), so a replay or a rebuild gives the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import resolve_topic

from services.casework.domain import Case
from services.casework.domain.chain import ChainedAggregate
from services.casework.domain.codes import OWNER_SLOTS
from services.casework.domain.ladder import next_reminder_at
from services.casework.domain.progress import next_action

FireTimer = Callable[[UUID, str], Any]
RemindTimer = Callable[[UUID, str], "datetime | None"]  # reminds; returns the timer's next reminder moment


@dataclass(frozen=True)
class CaseSummary:
    """One row of the case ledger (台账) as lists show it."""

    case_id: str
    student_id: str
    school_id: str | None
    township_code: str
    source: str
    stage: str
    opened_at: datetime
    version: int
    next_action: str | None = None
    next_due_at: datetime | None = None


@dataclass(frozen=True)
class QueueItem:
    """One case in an owner's work queue."""

    case_id: str
    slot: str
    line: str
    stage: str
    township_code: str
    next_action: str | None
    next_due_at: datetime | None
    opened_at: datetime


@dataclass(frozen=True)
class DueTimer:
    timer_id: str
    case_id: str
    township_code: str
    kind: str
    step: str | None
    due_at: datetime
    status: str
    version: int
    remind_at: datetime | None = None  # the next reminder before it falls due, not yet sent (None: none left)


@dataclass(frozen=True)
class CaseRows:
    """Everything the read models hold about one case."""

    summary: CaseSummary
    owners: list[tuple[str, str]]  # (slot, user id)
    timers: list[DueTimer]


def case_rows(case: Case) -> CaseRows:
    action, due = next_action(case)
    summary = CaseSummary(case_id=str(case.id), student_id=case.student_id, school_id=case.school_id,
                          township_code=case.township_code, source=case.source, stage=case.stage,
                          opened_at=case.opened_at, version=case.version, next_action=action, next_due_at=due)
    timers = [DueTimer(timer_id=t, case_id=str(case.id), township_code=case.township_code, kind=v["kind"],
                       step=v["step"], due_at=datetime.fromisoformat(v["due_at"]), status=v["status"],
                       version=case.version, remind_at=next_reminder_at(v)) for t, v in case.timers.items()]
    return CaseRows(summary, [(slot, o["user_id"]) for slot, o in case.owners.items()], timers)


def is_case_event(topic: str) -> bool:
    """Case events (and only they) are sealed into a chain."""
    cls = resolve_topic(topic)
    return isinstance(cls, type) and issubclass(cls, ChainedAggregate.Event)


def touched_cases(notifications: Iterable[Any]) -> list[UUID]:
    """Case ids a batch of notifications changed, in first-seen order."""
    seen: dict[UUID, None] = {}
    for n in notifications:
        if is_case_event(n.topic):
            seen.setdefault(n.originator_id, None)
    return list(seen)


def rows_for(app: Any, notifications: Iterable[Any]) -> list[CaseRows]:
    return [case_rows(app.repository.get(case_id)) for case_id in touched_cases(notifications)]


def queue_order(item: QueueItem) -> tuple[bool, datetime, datetime]:
    """Due actions first (earliest first), then the oldest cases."""
    return (item.next_due_at is None, item.next_due_at or item.opened_at, item.opened_at)


class MemoryCaseViews:
    """The same read models in dicts: a fake for in-memory tests and single-process tools."""

    def __init__(self, batch_size: int = 500) -> None:
        self.batch_size = batch_size
        self.rows: dict[str, CaseRows] = {}
        self.timer_status: dict[str, str] = {}
        self.remind_at: dict[str, datetime | None] = {}  # what a reminder pass left, until the case's rows change
        self.position = 0

    def catch_up(self, app: Any) -> int:
        while batch := app.recorder.select_notifications(start=self.position + 1, limit=self.batch_size):
            for rows in rows_for(app, batch):
                old = self.rows.get(rows.summary.case_id)
                if old is None or old.summary.version <= rows.summary.version:
                    self.rows[rows.summary.case_id] = rows
                    for t in rows.timers:
                        self.remind_at.pop(t.timer_id, None)
            self.position = batch[-1].id
        return self.position

    def search(self, prefix: str, *, stage: str | None, limit: int,
               after: tuple[datetime, str] | None) -> list[CaseSummary]:
        rows = sorted((r.summary for r in self.rows.values()), key=lambda r: (r.opened_at, r.case_id), reverse=True)
        rows = [r for r in rows if r.township_code.startswith(prefix) and (stage is None or r.stage == stage)]
        if after is not None:
            rows = [r for r in rows if (r.opened_at, r.case_id) < after]
        return rows[:limit]

    def queue(self, user_id: str, prefix: str, *, limit: int) -> list[QueueItem]:
        items = [
            QueueItem(case_id=r.summary.case_id, slot=slot, line=OWNER_SLOTS[slot][0], stage=r.summary.stage,
                      township_code=r.summary.township_code, next_action=r.summary.next_action,
                      next_due_at=r.summary.next_due_at, opened_at=r.summary.opened_at)
            for r in self.rows.values() for slot, owner in r.owners
            if owner == user_id and r.summary.township_code.startswith(prefix)
            and r.summary.stage not in ("closed", "excluded")
        ]
        return sorted(items, key=queue_order)[:limit]

    def fire_due(self, now: datetime, limit: int, fire: FireTimer) -> int:
        due = sorted((t for r in self.rows.values() for t in r.timers
                      if t.status == "pending" and self.timer_status.get(t.timer_id, "pending") == "pending"
                      and t.due_at <= now), key=lambda t: t.due_at)[:limit]
        for timer in due:
            fire(UUID(timer.case_id), timer.timer_id)
            self.timer_status[timer.timer_id] = "done"
        return len(due)

    def remind_due(self, now: datetime, limit: int, remind: RemindTimer) -> int:
        """Reminds pending timers whose next reminder is due; returns how many were handled."""
        due = sorted((t for r in self.rows.values() for t in r.timers
                      if t.status == "pending" and self.timer_status.get(t.timer_id, "pending") == "pending"
                      and self.remind_at.get(t.timer_id, t.remind_at) is not None
                      and self.remind_at.get(t.timer_id, t.remind_at) <= now),  # type: ignore[operator]
                     key=lambda t: t.due_at)[:limit]
        for timer in due:
            self.remind_at[timer.timer_id] = remind(UUID(timer.case_id), timer.timer_id)
        return len(due)

    def next_due(self) -> datetime | None:
        """When the earliest pending timer falls due or its next reminder is (None: none pending)."""
        pending = [t for r in self.rows.values() for t in r.timers
                   if t.status == "pending" and self.timer_status.get(t.timer_id, "pending") == "pending"]
        moments = [t.due_at for t in pending] + [m for t in pending
                                                  if (m := self.remind_at.get(t.timer_id, t.remind_at)) is not None]
        return min(moments, default=None)

    def open_by_county(self, now: datetime) -> dict[str, tuple[int, int]]:
        """County code -> (cases not closed, those whose next step's due time has passed by ``now``)."""
        counts: dict[str, tuple[int, int]] = {}
        for r in self.rows.values():
            s = r.summary
            if s.stage not in ("closed", "excluded"):
                n, late = counts.get(s.township_code[:6], (0, 0))
                counts[s.township_code[:6]] = (n + 1, late + int(s.next_due_at is not None and s.next_due_at <= now))
        return counts
