"""The delivery outbox and the preferences table in PostgreSQL (schema ``notifications``).

The outbox holds one row per notification x channel (the delivery id is its key, so enqueuing twice is one row);
a worker claims due rows with a lease (``FOR UPDATE SKIP LOCKED``), so two workers never send the same row at once
and a worker killed mid-send leaves a row another takes up when the lease runs out. Text and address are cleared
once a row is settled. Preferences are plain rows (not events): they hold addresses, which must stay erasable."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.notifications.domain.delivery import QuietHours
from services.notifications.domain.preferences import Preference

DDL = """
CREATE TABLE IF NOT EXISTS delivery_outbox (
    delivery_id text PRIMARY KEY, notification_id text NOT NULL, channel text NOT NULL, recipient_id text NOT NULL,
    address text, template text NOT NULL, text text, township_code text NOT NULL, case_id text,
    urgent boolean NOT NULL DEFAULT false, status text NOT NULL DEFAULT 'queued', attempts int NOT NULL DEFAULT 0,
    due_at timestamptz NOT NULL, lease_owner text, lease_until timestamptz, provider_message_id text,
    created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_outbox_due ON delivery_outbox (due_at) WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS delivery_outbox_provider ON delivery_outbox (channel, provider_message_id);
CREATE TABLE IF NOT EXISTS recipient_preferences (
    user_id text PRIMARY KEY, jurisdiction_code text NOT NULL, channels jsonb NOT NULL,
    muted_templates text[] NOT NULL DEFAULT '{}', quiet_hours text, updated_at timestamptz NOT NULL
);
"""
_ROW = ("delivery_id", "notification_id", "channel", "recipient_id", "address", "template", "text",
        "township_code", "case_id", "urgent", "status", "attempts", "due_at")


@dataclass(frozen=True)
class OutboxRow:
    delivery_id: str
    notification_id: str
    channel: str
    recipient_id: str
    address: str | None
    template: str
    text: str | None
    township_code: str
    case_id: str | None
    urgent: bool
    status: str = "queued"
    attempts: int = 0
    due_at: datetime | None = None


class PostgresOutbox:
    """Rows to deliver, claimed with a lease; every change is one statement (atomic on its own)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self._ready = False

    def ensure(self) -> None:
        if not self._ready:
            self.db.ensure_tables(DDL)
            self._ready = True

    def enqueue(self, rows: list[OutboxRow], now: datetime) -> int:
        """Adds rows not there yet (the delivery id decides); returns how many were new."""
        self.ensure()
        added = 0
        with self.db.transaction() as conn:
            for r in rows:
                cur = conn.execute(
                    f"INSERT INTO delivery_outbox ({', '.join(_ROW)}, created_at) VALUES ({', '.join(['%s'] * 14)}) "
                    "ON CONFLICT (delivery_id) DO NOTHING",
                    (*(getattr(r, c) for c in _ROW[:-1]), r.due_at or now, now))
                added += cur.rowcount
        return added

    def claim(self, now: datetime, owner: str, lease_s: float, limit: int = 50) -> list[OutboxRow]:
        """Due rows nobody holds (or whose holder's lease ran out), leased to ``owner``."""
        self.ensure()
        with self.db.transaction() as conn:
            rows = conn.execute(
                f"UPDATE delivery_outbox SET lease_owner = %s, lease_until = %s WHERE delivery_id IN ("
                "SELECT delivery_id FROM delivery_outbox WHERE status = 'queued' AND due_at <= %s "
                "AND (lease_until IS NULL OR lease_until <= %s) ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED) "
                f"RETURNING {', '.join(_ROW)}",
                (owner, now + timedelta(seconds=lease_s), now, now, limit)).fetchall()
        return sorted((OutboxRow(**r) for r in rows), key=lambda r: (r.due_at, r.delivery_id))

    def reschedule(self, delivery_id: str, owner: str, due_at: datetime, attempts: int) -> None:
        """Back in the queue at ``due_at`` (a retry, or the end of quiet hours); the lease is given up."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE delivery_outbox SET due_at = %s, attempts = %s, lease_owner = NULL, lease_until = NULL "
                         "WHERE delivery_id = %s AND lease_owner = %s", (due_at, attempts, delivery_id, owner))

    def settle(self, delivery_id: str, owner: str, status: str, attempts: int,
               provider_message_id: str | None = None) -> None:
        """Sent or given up: out of the queue for good, its text and address cleared."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE delivery_outbox SET status = %s, attempts = %s, provider_message_id = %s, "
                         "text = NULL, address = NULL, lease_owner = NULL, lease_until = NULL "
                         "WHERE delivery_id = %s AND lease_owner = %s",
                         (status, attempts, provider_message_id, delivery_id, owner))

    def by_provider_id(self, channel: str, provider_message_id: str) -> str | None:
        """The delivery a provider's receipt is about."""
        self.ensure()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT delivery_id FROM delivery_outbox WHERE channel = %s AND provider_message_id = %s",
                               (channel, provider_message_id)).fetchone()
        return row["delivery_id"] if row else None

    def counts(self) -> dict[str, int]:
        self.ensure()
        with self.db.transaction() as conn:
            return {r["status"]: r["n"] for r in conn.execute(
                "SELECT status, count(*) AS n FROM delivery_outbox GROUP BY status").fetchall()}


class PostgresPreferences:
    """Each recipient's preference row, replaced whole on every change."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self._ready = False

    def ensure(self) -> None:
        if not self._ready:
            self.db.ensure_tables(DDL)
            self._ready = True

    def get(self, user_id: str) -> Preference | None:
        self.ensure()
        with self.db.transaction() as conn:
            r = conn.execute("SELECT * FROM recipient_preferences WHERE user_id = %s", (user_id,)).fetchone()
        if r is None:
            return None
        channels = r["channels"] if isinstance(r["channels"], dict) else json.loads(r["channels"])
        return Preference(r["user_id"], r["jurisdiction_code"], channels, frozenset(r["muted_templates"]),
                          QuietHours.parse(r["quiet_hours"]) if r["quiet_hours"] else None)

    def put(self, p: Preference, now: datetime) -> None:
        self.ensure()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO recipient_preferences (user_id, jurisdiction_code, channels, muted_templates, quiet_hours, "
                "updated_at) VALUES (%s, %s, %s::jsonb, %s, %s, %s) ON CONFLICT (user_id) DO UPDATE SET "
                "jurisdiction_code = EXCLUDED.jurisdiction_code, channels = EXCLUDED.channels, "
                "muted_templates = EXCLUDED.muted_templates, quiet_hours = EXCLUDED.quiet_hours, "
                "updated_at = EXCLUDED.updated_at",
                (p.user_id, p.jurisdiction_code, json.dumps(p.channels), sorted(p.muted),
                 str(p.quiet_hours) if p.quiet_hours else None, now))
