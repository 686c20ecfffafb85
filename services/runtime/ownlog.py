"""Read models of a service's own events: followed from its notification log in batches.

The position row is locked while a batch is applied, so API replicas that catch up lazily take turns and
never apply a batch twice; each batch and its position commit in one transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

from services.runtime.db import Database

POSITION_DDL = "CREATE TABLE IF NOT EXISTS projection_position (name text PRIMARY KEY, position bigint NOT NULL);"


class OwnEventsProjection(ABC):
    """Subclasses name the projection, give its DDL and write one batch of notifications."""

    name: str = "projection"
    ddl: str = ""

    def __init__(self, db: Database, batch_size: int = 500) -> None:
        self.db = db
        self.batch_size = batch_size
        self._ready = False

    def ensure(self) -> None:
        if not self._ready:
            self.db.ensure_tables(POSITION_DDL + self.ddl)
            self._ready = True

    def position(self) -> int:
        self.ensure()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT position FROM projection_position WHERE name = %s", (self.name,)).fetchone()
        return row["position"] if row else 0

    def catch_up(self, app: Any) -> int:
        """Applies every new event in batches; returns the position reached."""
        position = self.position()
        if (app.recorder.max_notification_id() or 0) <= position:
            return position
        while True:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO projection_position (name, position) VALUES (%s, 0) ON CONFLICT DO NOTHING", (self.name,)
                )
                position = conn.execute(
                    "SELECT position FROM projection_position WHERE name = %s FOR UPDATE", (self.name,)
                ).fetchone()["position"]
                batch = app.recorder.select_notifications(start=position + 1, limit=self.batch_size)
                if not batch:
                    return position
                self.write(conn, app, batch)
                position = batch[-1].id
                conn.execute("UPDATE projection_position SET position = %s WHERE name = %s", (position, self.name))
            if len(batch) < self.batch_size:
                return position

    @abstractmethod
    def write(self, conn: Any, app: Any, notifications: Sequence[Any]) -> None:
        """Applies one batch of stored notifications to the read model."""
