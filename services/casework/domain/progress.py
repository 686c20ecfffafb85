"""What a case needs next and by when: the order of an owner's work queue (due actions first)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.casework.domain.codes import LADDER


def _due(timer: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(timer["due_at"])


def next_action(case: Any) -> tuple[str | None, datetime | None]:
    """(action code, due time); an overdue step is due at the deadline that passed, so it sorts first."""
    timers = list(case.timers.values())
    pending = sorted((t for t in timers if t["status"] == "pending"), key=_due)
    fired = sorted((t for t in timers if t["status"] == "fired"), key=_due)
    stage = case.stage
    if stage in ("closed", "excluded"):
        return None, None
    if stage == "escalated":
        if pending:
            return f"await_deadline:{pending[0]['step']}", _due(pending[0])
        taken = [s for s in LADDER if s in case.ladder]
        if taken and taken[-1] != LADDER[-1]:
            overdue = [t for t in fired if t["kind"] == "ladder" and t["step"] == taken[-1]]
            return f"take_step:{LADDER[LADDER.index(taken[-1]) + 1]}", _due(overdue[-1]) if overdue else None
        return "await_court", None
    if stage == "returned":
        if pending:
            return "follow_up", _due(pending[0])
        follow = [t for t in fired if t["kind"] == "follow_up"]
        return "close", _due(follow[-1]) if follow else None
    actions = {"suspected": "start_verification", "verifying": "conclude_verification", "not_dropout": "close",
               "persuading": "persuade", "closure_pending": "approve_closure"}
    return actions[stage], _due(pending[0]) if pending else None
