"""The scheduler loop every service runs: tick until stopped, outlive outages, log start, work and stop."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from services.runtime.logging import error_text


def run_loop(tick: Callable[[], Any], *, should_stop: Callable[[], bool], logger: Any, interval_s: float,
             sleep: Callable[[float], Any] = time.sleep, done: Callable[[Any], None] | None = None,
             failed_event: str = "scheduler_retrying", **started: Any) -> None:
    """Calls ``tick`` every ``interval_s`` until ``should_stop()``; what it returns goes to ``done`` (to log the
    work), an exception is logged (type and message without personal data) and the next tick tries again."""
    logger.info("scheduler_started", interval_s=interval_s, **started)
    while not should_stop():
        try:
            result = tick()
            if done is not None:
                done(result)
        except Exception as exc:  # noqa: BLE001 - the loop must outlive database and broker outages
            logger.warning(failed_event, error=error_text(exc))
        sleep(interval_s)
    logger.info("scheduler_stopped")
