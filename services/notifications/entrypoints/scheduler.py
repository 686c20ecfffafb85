"""The delivery worker's loop (``baoxue run notifications scheduler``): send what the outbox holds when it is due."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.notifications.application.delivery import DeliveryWorker
from services.runtime.scheduling import run_loop


def run_delivery(worker: DeliveryWorker, logger: Any, should_stop: Callable[[], bool], sleep: Callable[[float], Any],
                 interval_s: float, metrics: Any = None) -> None:
    """Ticks the worker until stopped; a pass that did something is logged with its counts (ids only)."""

    def done(result: dict[str, int]) -> None:
        if result:
            logger.info("deliveries_done", **result)

    run_loop(worker.run_once, should_stop=should_stop, logger=logger, interval_s=interval_s, sleep=sleep, done=done,
             failed_event="delivery_retrying_pass", metrics=metrics, worker=worker.owner)
