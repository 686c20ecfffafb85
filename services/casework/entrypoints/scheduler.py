"""The deadline scheduler (process role ``scheduler``): runs a deadline pass whenever one can find something.

Timers live in the cases (durable as the events are); the due-timer table is their index
(``application/deadlines.py`` has the pass and the gate that skips quiet ticks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.casework.application import CaseworkApp
from services.casework.application.deadlines import IdleGate, tick
from services.runtime.clock import Clock
from services.runtime.scheduling import run_loop


def run_scheduler(app: CaseworkApp, clock: Clock, logger: Any, should_stop: Callable[[], bool],
                  sleep: Callable[[float], Any], interval_s: float, batch_size: int, claim: Any = None, metrics: Any = None) -> None:
    """Polls until stopped, passing only when something can be due; outages are logged and retried next tick."""
    gate = IdleGate()

    def one_tick() -> int:
        latest = gate.due(app, clock.now())
        if latest is None:
            return 0
        fired = tick(app, clock, batch_size, logger)
        gate.passed(app, latest)
        return fired

    def done(fired: int) -> None:
        if fired:
            logger.info("deadlines_handled", count=fired)

    run_loop(one_tick, should_stop=should_stop, logger=logger, interval_s=interval_s, sleep=sleep, done=done, claim=claim, metrics=metrics)
