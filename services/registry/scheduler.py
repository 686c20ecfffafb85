"""The scheduled comparison run: once a day at the configured local hour, read from the injected clock.

A simulated clock (FixedClock in tests, FileClock across processes) drives it, so a term of daily runs
takes seconds. The date of the last run is kept in the registry schema so a restart does not run twice.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any, Callable, Protocol

from services.registry.comparisons import Rules
from services.runtime.auth import system_actor
from services.runtime.logging import error_text


class LastRun(Protocol):
    def get(self) -> date | None: ...

    def set(self, day: date) -> None: ...


class MemoryLastRun:
    def __init__(self) -> None:
        self.day: date | None = None

    def get(self) -> date | None:
        return self.day

    def set(self, day: date) -> None:
        self.day = day


class PostgresLastRun:
    DDL = "CREATE TABLE IF NOT EXISTS scheduled_runs (name text PRIMARY KEY, last_day date NOT NULL);"

    def __init__(self, db: Any, name: str = "comparisons") -> None:
        self.db, self.name = db, name
        db.execute_script(self.DDL)

    def get(self) -> date | None:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT last_day FROM scheduled_runs WHERE name = %s", (self.name,)).fetchone()
        return row["last_day"] if row else None

    def set(self, day: date) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO scheduled_runs VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET "
                         "last_day = EXCLUDED.last_day", (self.name, day))


class ComparisonScheduler:
    """Runs every comparison for its jurisdiction once a day, at or after the configured hour."""

    def __init__(self, app: Any, clock: Any, rules: Rules, *, prefix: str = "", hour: int = 2,
                 last_run: LastRun | None = None) -> None:
        self.app, self.clock, self.rules, self.prefix, self.hour = app, clock, rules, prefix, hour
        self.last_run = last_run or MemoryLastRun()
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
        summary = self.app.run_comparisons(prefix=self.prefix, as_of=today, rules=self.rules, meta=meta)
        self.last_run.set(today)
        self._known = today
        return summary

    def run(self, should_stop: Callable[[], bool], logger: Any, interval_s: float = 30.0) -> None:
        logger.info("scheduler_started", hour=self.hour, prefix=self.prefix or None)
        while not should_stop():
            try:
                summary = self.tick()
                if summary is not None:
                    logger.info("comparisons_run", results=summary)
            except Exception as exc:  # noqa: BLE001 - a failed run is retried at the next tick
                logger.warning("comparisons_failed", error=error_text(exc))
            time.sleep(interval_s)
