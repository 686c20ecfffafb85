"""The scheduler loop every service runs: tick until stopped, outlive outages, log start, work and stop.

Several replicas of a scheduler are safe with a claim (``advisory_claim``): only the replica holding the
scheduler's PostgreSQL session advisory lock ticks; the others wait as standbys and the first to try after the
holder's session ended (its process died, its host vanished: keepalives, about 10 s) takes over.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import structlog

from services.runtime import tracing
from services.runtime.db import Leadership
from services.runtime.logging import error_text

Claim = Callable[[], AbstractContextManager[bool]]


class AdvisoryClaim:
    """A scheduler's claim: ``with claim() as held:`` is True while this process holds the lock (taken on the
    first try and kept across ticks, checked with one round trip per tick)."""

    def __init__(self, url: str, name: str, logger: Any = None) -> None:
        self.leadership = Leadership(url, f"baoxue-scheduler:{name}", logger or structlog.get_logger())

    @contextmanager
    def __call__(self) -> Iterator[bool]:
        yield self.leadership.held()

    def release(self) -> None:
        """Lets another replica take over at once (on stop)."""
        self.leadership.release()


def advisory_claim(url: str, name: str, logger: Any = None) -> AdvisoryClaim:
    """The claim of scheduler ``name`` on the database at ``url`` (one lock per name across every replica)."""
    return AdvisoryClaim(url, name, logger)


def run_loop(tick: Callable[[], Any], *, should_stop: Callable[[], bool], logger: Any, interval_s: float,
             sleep: Callable[[float], Any] = time.sleep, done: Callable[[Any], None] | None = None,
             failed_event: str = "scheduler_retrying", claim: Claim | None = None, metrics: Any = None,
             **started: Any) -> None:
    """Calls ``tick`` every ``interval_s`` until ``should_stop()``; what it returns goes to ``done`` (to log the
    work), an exception is logged (type and message without personal data) and the next tick tries again.
    With ``claim``, a tick runs only while the claim is held (one replica at a time); with ``metrics`` (the
    process's ``Metrics``), every tick counts in ``baoxue_scheduler_ticks_total{outcome}`` and a good one sets
    ``baoxue_scheduler_last_tick_timestamp_seconds`` (a standby's stays unset: the alert looks at the newest)."""
    logger.info("scheduler_started", interval_s=interval_s, **({"claimed": True} if claim else {}), **started)
    leading: bool | None = None
    try:
        while not should_stop():
            try:
                with (claim() if claim is not None else _always()) as held:
                    if claim is not None and held != leading:
                        logger.info("scheduler_leading" if held else "scheduler_standby")
                        leading = held
                    if held:
                        with tracing.span("scheduler tick", attributes={"baoxue.service": getattr(
                                metrics, "service", "")}):  # a tick's events start their own trace
                            result = tick()
                        if done is not None:
                            done(result)
                        _count(metrics, "ok")
            except Exception as exc:  # noqa: BLE001 - the loop must outlive database and broker outages
                logger.warning(failed_event, error=error_text(exc))
                _count(metrics, "failed")
            sleep(interval_s)
    finally:
        release = getattr(claim, "release", None)
        if release is not None:
            release()
    logger.info("scheduler_stopped")


def _count(metrics: Any, outcome: str) -> None:
    if metrics is None:
        return
    metrics.scheduler_ticks.labels(metrics.service, outcome).inc()
    if outcome == "ok":
        metrics.scheduler_last_tick.labels(metrics.service).set(time.time())


@contextmanager
def _always() -> Iterator[bool]:
    yield True


def stoppable_sleep(should_stop: Callable[[], bool], step_s: float = 0.5) -> Callable[[float], None]:
    """A ``sleep`` for ``run_loop`` that wakes within ``step_s`` of a stop request (SIGTERM ends a scheduler fast)."""

    def sleep(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(min(step_s, max(0.0, deadline - time.monotonic())))

    return sleep
