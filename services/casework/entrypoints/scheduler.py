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
from services.runtime.metrics import Every
from services.runtime.scheduling import run_loop

GAUGES_EVERY_S = 30.0  # baoxue_cases_open and baoxue_case_deadlines_overdue, from the case index


def run_scheduler(app: CaseworkApp, clock: Clock, logger: Any, should_stop: Callable[[], bool],
                  sleep: Callable[[float], Any], interval_s: float, batch_size: int, claim: Any = None, metrics: Any = None) -> None:
    """Polls until stopped, passing only when something can be due; outages are logged and retried next tick."""
    gate = IdleGate()
    gauges = Every(GAUGES_EVERY_S, lambda: refresh_gauges(app, clock, metrics)) if metrics is not None else None

    def one_tick() -> int:
        latest = gate.due(app, clock.now())
        fired = 0
        if latest is not None:
            fired = tick(app, clock, batch_size, logger)
            gate.passed(app, latest)
        if gauges is not None:
            gauges()
        return fired

    def done(fired: int) -> None:
        if fired:
            logger.info("deadlines_handled", count=fired)

    run_loop(one_tick, should_stop=should_stop, logger=logger, interval_s=interval_s, sleep=sleep, done=done, claim=claim, metrics=metrics)


def refresh_gauges(app: CaseworkApp, clock: Clock, metrics: Any) -> None:
    """Open cases per county and overdue next steps from the case index (caught up first); a county whose cases
    all closed goes to 0 rather than keeping its last count."""
    app.index.catch_up(app)
    counts = app.index.open_by_county(clock.now())
    seen = {labels[1] for labels in _label_sets(metrics.cases_open)}
    for county in seen | set(counts):
        metrics.cases_open.labels(metrics.service, county).set(counts.get(county, (0, 0))[0])
    metrics.case_deadlines_overdue.labels(metrics.service).set(sum(late for _, late in counts.values()))


def _label_sets(gauge: Any) -> list[tuple[str, ...]]:
    return [tuple(sample.labels[k] for k in ("service", "county")) for metric in gauge.collect()
            for sample in metric.samples]
