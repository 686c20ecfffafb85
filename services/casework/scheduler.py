"""The deadline scheduler (process role ``scheduler``): fires due case timers by the injected clock.

Timers live in the cases (durable as the events are); the due-timer table is their index. Each pass
catches the index up, then fires what is due. A timer fires exactly once: the case records
``DeadlinePassed`` for a timer only while it is pending, so a restart, a replay or a second scheduler
cannot fire it again.
"""

from __future__ import annotations

from collections.abc import Callable
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
            fired = app.fire_deadline(case_id, timer_id, now)
        except CaseworkError as exc:  # a rule refused it: recorded in the log, never retried forever
            if logger is not None:
                logger.warning("deadline_refused", case_id=str(case_id), timer_id=timer_id, rule=exc.rule)
            return
        if logger is not None:
            logger.info("deadline_fired" if fired else "deadline_already_settled", case_id=str(case_id),
                        timer_id=timer_id)

    handled = 0
    while True:
        count = app.index.fire_due(now, batch_size, fire)
        handled += count
        if count < batch_size:
            return handled


def run_scheduler(app: CaseworkApp, clock: Clock, logger: Any, should_stop: Callable[[], bool],
                  sleep: Callable[[float], Any], interval_s: float, batch_size: int) -> None:
    """Polls until stopped; database outages are logged and retried on the next pass."""
    logger.info("scheduler_started", interval_s=interval_s)
    while not should_stop():
        try:
            fired = tick(app, clock, batch_size, logger)
            if fired:
                logger.info("deadlines_handled", count=fired)
        except Exception as exc:  # noqa: BLE001 - the loop must outlive database outages
            logger.warning("scheduler_retrying", error=str(exc)[:300])
        sleep(interval_s)
    logger.info("scheduler_stopped")
