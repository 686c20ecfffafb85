"""One deadline pass (what the ``scheduler`` process runs each tick): fires due case timers by the injected clock,
then reminds the owners of timers whose reminder (N days before, ``CasePolicy.reminder_days``) came due.

Timers live in the cases (durable as the events are); the due-timer table is their index. Each pass
catches the index up, then fires what is due. A timer fires exactly once: the case records
``DeadlinePassed`` for a timer only while it is pending, so a restart, a replay or a second scheduler
cannot fire it again.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from uuid import UUID

from services.casework.application import CaseworkApp
from services.casework.domain import CaseworkError
from services.runtime.clock import Clock


def tick(app: CaseworkApp, clock: Clock, batch_size: int = 100, logger: Any = None) -> int:
    """One pass: catch the timer index up, fire every due timer; returns how many timers were handled."""
    app.index.catch_up(app)
    now = clock.now()

    def fire(case_id: UUID, timer_id: str) -> None:
        try:
            fired = app.cases.fire_deadline(case_id, timer_id, now)
        except CaseworkError as exc:  # a rule refused it: recorded in the log, never retried forever
            if logger is not None:
                logger.warning("deadline_refused", case_id=str(case_id), timer_id=timer_id, rule=exc.rule)
            return
        if logger is not None:
            logger.info("deadline_fired" if fired else "deadline_already_settled", case_id=str(case_id),
                        timer_id=timer_id)

    def remind(case_id: UUID, timer_id: str) -> datetime | None:
        try:
            sent, following = app.cases.remind_deadline(case_id, timer_id, now)
        except CaseworkError as exc:
            if logger is not None:
                logger.warning("reminder_refused", case_id=str(case_id), timer_id=timer_id, rule=exc.rule)
            return None
        if logger is not None:
            logger.info("deadline_reminded" if sent else "reminder_already_settled", case_id=str(case_id),
                        timer_id=timer_id)
        return following

    handled = 0
    for step in (fire, remind):  # firing first: a deadline that is due is not also reminded
        claim = app.index.fire_due if step is fire else app.index.remind_due
        while True:
            count = claim(now, batch_size, step)  # type: ignore[arg-type]
            handled += count
            if count < batch_size:
                break
    return handled


class IdleGate:
    """Lets a pass run only when it can find something: the store has a new event (timers are set, fired and
    cancelled by events), or the clock (simulated clocks jump) reached the earliest pending timer or reminder; and at
    least every ``full_pass_s`` anyway. A quiet tick then costs one indexed query (the store's last notification id)."""

    def __init__(self, full_pass_s: float = 60.0) -> None:
        self.full_pass_s = full_pass_s
        self.seen: int | None = None  # the store's last notification id when the last complete pass began
        self.next_due: datetime | None = None
        self.last_pass = float("-inf")

    def due(self, app: CaseworkApp, now: datetime) -> int | None:
        """The store's last notification id if a pass should run now (pass it to ``passed``), else None."""
        latest = app.recorder.max_notification_id() or 0
        if (latest != self.seen or (self.next_due is not None and now >= self.next_due)
                or time.monotonic() - self.last_pass >= self.full_pass_s):
            return latest
        return None

    def passed(self, app: CaseworkApp, latest: int) -> None:
        """After a complete pass that began at ``latest``: what it leaves pending falls due at ``next_due``."""
        self.next_due = app.index.next_due()
        self.seen, self.last_pass = latest, time.monotonic()
