"""Where the scheduler keeps the day of its last comparison run (a restart does not run twice)."""

from __future__ import annotations

from datetime import date
from typing import Any


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
        db.ensure_tables(self.DDL)

    def get(self) -> date | None:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT last_day FROM scheduled_runs WHERE name = %s", (self.name,)).fetchone()
        return row["last_day"] if row else None

    def set(self, day: date) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO scheduled_runs VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET "
                         "last_day = EXCLUDED.last_day", (self.name, day))
