"""The scheduled comparison run: once a day at the configured local hour, read from the injected clock.

A simulated clock (FixedClock in tests, FileClock across processes) drives it, so a term of daily runs
takes seconds. The date of the last run is kept in the registry schema so a restart does not run twice.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

from services.registry.adapters.last_run import MemoryLastRun
from services.registry.application.comparisons import Comparisons
from services.registry.application.ports import LastRun
from services.registry.domain.comparisons import Rules
from services.runtime.auth import system_actor
from services.runtime.scheduling import run_loop


class ComparisonScheduler:
    """Runs every comparison for its jurisdiction once a day, at or after the configured hour."""

    def __init__(self, comparisons: Comparisons, clock: Any, rules: Rules, *, prefix: str = "", hour: int = 2,
                 last_run: LastRun | None = None) -> None:
        self.comparisons, self.clock, self.rules, self.prefix, self.hour = comparisons, clock, rules, prefix, hour
        self.last_run = last_run if last_run is not None else MemoryLastRun()
        self._known: date | None = None  # the last run as last read or written: an idle tick reads no database

    def due(self, now: Any, today: date) -> bool:
        """Whether today's run is due: the hour has come and no run is known for today. The stored last run is
        read again only when a run looks due (another scheduler may have run it meanwhile)."""
        if now.hour < self.hour or (self._known is not None and self._known >= today):
            return False
        self._known = self.last_run.get()
        return self._known is None or self._known < today

    def tick(self) -> dict[str, Any] | None:
        """Runs the comparisons if today's run is due; returns its summary, or None."""
        now = self.clock.now().astimezone(self.clock.tz) if hasattr(self.clock, "tz") else self.clock.now()
        today = self.clock.today()
        if not self.due(now, today):
            return None
        actor = system_actor("registry", self.prefix or "00") if self.prefix else None
        meta = (actor.meta(f"scheduled-comparisons-{today}", self.clock.now()) if actor else
                {"actor_id": "system:registry", "actor_role": "system", "jurisdiction": "",
                 "correlation_id": f"scheduled-comparisons-{today}", "at": self.clock.now().isoformat()})
        summary = self.comparisons.run_comparisons(prefix=self.prefix, as_of=today, rules=self.rules, meta=meta)
        self.last_run.set(today)
        self._known = today
        return summary

    def run(self, should_stop: Callable[[], bool], logger: Any, interval_s: float = 30.0,
            sleep: Callable[[float], Any] | None = None, claim: Any = None, metrics: Any = None) -> None:
        """Ticks until stopped (runtime.scheduling.run_loop); a day's run is logged, a failed one retried."""
        def done(summary: dict[str, Any] | None) -> None:
            if summary is not None:
                logger.info("comparisons_run", results=summary)

        extra = {} if sleep is None else {"sleep": sleep}
        run_loop(self.tick, should_stop=should_stop, logger=logger, interval_s=interval_s, done=done,
                 failed_event="comparisons_failed", claim=claim, metrics=metrics, hour=self.hour, prefix=self.prefix or None, **extra)
