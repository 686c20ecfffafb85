"""Delivery records: one row per notification, derived from the event store and caught up before each query
(so no extra process is needed, and dropping the table rebuilds the same rows)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from services.notifications.domain import Notification
from services.runtime.ownlog import OwnEventsProjection

NAME = "notification_records_v1"
STATUSES = ("requested", "pending", "sent", "forwarded")
DDL = """
CREATE TABLE IF NOT EXISTS notification_records (
    notification_id text PRIMARY KEY, case_id text, student_id text, township_code text NOT NULL,
    recipient_role text NOT NULL, recipient_id text, template text NOT NULL, trigger_id text,
    status text NOT NULL, channel text, sent_at timestamptz, requested_at timestamptz NOT NULL, version int NOT NULL
);
CREATE INDEX IF NOT EXISTS notification_records_case ON notification_records (case_id);
CREATE INDEX IF NOT EXISTS notification_records_recipient ON notification_records (recipient_id);
CREATE INDEX IF NOT EXISTS notification_records_township ON notification_records (township_code text_pattern_ops);
CREATE TABLE IF NOT EXISTS projection_position (name text PRIMARY KEY, position bigint NOT NULL);
"""
_COLUMNS = ("notification_id", "case_id", "student_id", "township_code", "recipient_role", "recipient_id", "template",
            "trigger_id", "status", "channel", "sent_at", "requested_at", "version")


@dataclass(frozen=True)
class NotificationView:
    notification_id: str
    case_id: str | None
    student_id: str | None
    township_code: str
    recipient_role: str
    recipient_id: str | None
    template: str
    trigger_id: str | None
    status: str
    channel: str | None
    sent_at: datetime | None
    requested_at: datetime
    version: int


@dataclass(frozen=True)
class Query:
    """What a reader asks for; the prefix is always the caller's jurisdiction."""

    prefix: str
    case_id: str | None = None
    recipient_id: str | None = None
    status: str | None = None
    template: str | None = None
    limit: int = 100


def apply(rows: dict[str, NotificationView], domain_event: Any) -> None:
    """Folds one stored event into the rows (events of other aggregates are ignored)."""
    key = str(domain_event.originator_id)
    version = domain_event.originator_version
    if isinstance(domain_event, Notification.Requested):
        rows[key] = NotificationView(
            key, domain_event.case_id, domain_event.student_id, domain_event.township_code,
            domain_event.recipient_role, None, domain_event.template, getattr(domain_event, "trigger_id", None),
            "requested", None, None, domain_event.timestamp, version,
        )
    elif key in rows and isinstance(domain_event, Notification.Pending):
        rows[key] = replace(rows[key], status="pending", version=version)
    elif key in rows and isinstance(domain_event, Notification.Forwarded):
        rows[key] = replace(rows[key], status="forwarded", version=version)
    elif key in rows and isinstance(domain_event, Notification.Sent):
        rows[key] = replace(rows[key], status="sent", recipient_id=domain_event.recipient_id,
                            channel=domain_event.channel, sent_at=domain_event.sent_at, version=version)


def matches(v: NotificationView, q: Query) -> bool:
    return (v.township_code.startswith(q.prefix) and (q.case_id is None or v.case_id == q.case_id)
            and (q.recipient_id is None or v.recipient_id == q.recipient_id)
            and (q.status is None or v.status == q.status) and (q.template is None or v.template == q.template))


class MemoryRecords:
    """The records in a dict (in-memory tests)."""

    def __init__(self) -> None:
        self.rows: dict[str, NotificationView] = {}
        self.position = 0

    def catch_up(self, app: Any) -> int:
        while batch := app.recorder.select_notifications(start=self.position + 1, limit=500):
            for stored in batch:
                apply(self.rows, app.mapper.to_domain_event(stored))
            self.position = batch[-1].id
        return self.position

    def search(self, q: Query) -> list[NotificationView]:
        found = sorted((v for v in self.rows.values() if matches(v, q)),
                       key=lambda v: (v.requested_at, v.notification_id), reverse=True)
        return found[: q.limit]


class PostgresRecords(OwnEventsProjection):
    """The records in the service's schema, caught up in batches with the position row locked."""

    name = NAME
    ddl = DDL

    def write(self, conn: Any, app: Any, notifications: Any) -> None:
        self._write(conn, [app.mapper.to_domain_event(s) for s in notifications])

    def _write(self, conn: Any, events: Iterable[Any]) -> None:
        events = [e for e in events if isinstance(e, (Notification.Requested, Notification.Pending,
                                                      Notification.Forwarded, Notification.Sent))]
        keys = list({str(e.originator_id) for e in events})
        rows = {r["notification_id"]: NotificationView(**r) for r in conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM notification_records WHERE notification_id = ANY(%s)", (keys,))}
        for e in events:
            apply(rows, e)
        for v in rows.values():
            conn.execute(
                f"INSERT INTO notification_records AS r ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * 13)}) "
                "ON CONFLICT (notification_id) DO UPDATE SET recipient_id = EXCLUDED.recipient_id, "
                "status = EXCLUDED.status, channel = EXCLUDED.channel, sent_at = EXCLUDED.sent_at, "
                "version = EXCLUDED.version WHERE r.version < EXCLUDED.version",
                tuple(getattr(v, c) for c in _COLUMNS),
            )

    def search(self, q: Query) -> list[NotificationView]:
        self.ensure()
        clauses, params = ["township_code LIKE %s"], [q.prefix + "%"]
        for column, value in (("case_id", q.case_id), ("recipient_id", q.recipient_id), ("status", q.status),
                              ("template", q.template)):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        with self.db.transaction() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM notification_records WHERE {' AND '.join(clauses)} "
                "ORDER BY requested_at DESC, notification_id DESC LIMIT %s", (*params, q.limit),
            ).fetchall()
        return [NotificationView(**r) for r in rows]
