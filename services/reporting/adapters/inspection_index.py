"""The inspection index (``inspection_findings``) and its alerts (``inspection_alerts``: reminders and escalations
addressed to a unit, the notification record): projections of the inspection store, written after each save."""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable

from services.reporting.adapters import names
from services.reporting.domain.inspections import Inspection
from services.runtime.db import Database

INDEX_DDL = """
CREATE TABLE IF NOT EXISTS inspection_findings (
    finding_id text PRIMARY KEY, inspection_id uuid NOT NULL, inspection_code text NOT NULL, title text NOT NULL,
    planned_on date NOT NULL, unit_code text NOT NULL, school_id text, description_code text NOT NULL,
    severity text NOT NULL, status text NOT NULL, deadline date, escalated_to text, recorded_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS inspection_findings_unit ON inspection_findings (unit_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS inspection_findings_pending ON inspection_findings (deadline) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS inspection_alerts (
    finding_id text NOT NULL, kind text NOT NULL, step text NOT NULL, inspection_id uuid NOT NULL,
    recipient_code text NOT NULL, school_id text, days_left int, at timestamptz NOT NULL,
    PRIMARY KEY (finding_id, kind, step)
);
CREATE INDEX IF NOT EXISTS inspection_alerts_recipient ON inspection_alerts (recipient_code text_pattern_ops);
"""
COLUMNS = ("finding_id", "inspection_id", "inspection_code", "title", "planned_on", "unit_code", "school_id",
           "description_code", "severity", "status", "deadline", "escalated_to", "recorded_at", "updated_at")


class InspectionIndex:
    """Index rows and alerts in PostgreSQL (``application.ports.InspectionIndex``)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_tables(INDEX_DDL)

    def put(self, inspections: Iterable[Inspection]) -> None:
        sql = (f"INSERT INTO inspection_findings ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
               "ON CONFLICT (finding_id) DO UPDATE SET status = EXCLUDED.status, deadline = EXCLUDED.deadline, "
               "escalated_to = EXCLUDED.escalated_to, updated_at = EXCLUDED.updated_at")
        rows = [(f["finding_id"], i.id, i.code, i.title, i.planned_on, f["unit_code"], f["school_id"],
                 f["description_code"], f["severity"], f["status"], f["deadline"], f["escalated_to"], f["recorded_at"],
                 i.modified_on) for i in inspections for f in i.findings.values()]
        if rows:
            with self.db.transaction() as conn, conn.cursor() as cur:
                cur.executemany(sql, rows)

    def alert(self, rows: Iterable[dict[str, Any]]) -> None:
        """Alerts once per finding, kind and step (a repeated tick writes nothing)."""
        with self.db.transaction() as conn:
            for r in rows:
                conn.execute(
                    "INSERT INTO inspection_alerts VALUES (%(finding_id)s, %(kind)s, %(step)s, %(inspection_id)s, "
                    "%(recipient_code)s, %(school_id)s, %(days_left)s, %(at)s) ON CONFLICT DO NOTHING", r)

    def due(self, today: date, horizon_days: int) -> list[dict[str, Any]]:
        """Pending findings whose deadline has passed or falls within the reminder horizon."""
        with self.db.transaction() as conn:
            return conn.execute(
                "SELECT inspection_id, finding_id FROM inspection_findings WHERE status = 'pending' "
                "AND deadline <= %s::date + %s ORDER BY deadline, finding_id", (today, horizon_days)).fetchall()

    def findings(self, code: str, schools: tuple[str, ...] | None, day: date, status: str | None = None,
                 since: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
        """Findings of units inside ``code`` (or of inspections inside it), with unit and school names."""
        where = ["(f.unit_code LIKE %(code)s OR f.inspection_code LIKE %(code)s)"]
        params: dict[str, Any] = {"code": code + "%"}
        if schools is not None:
            where.append("f.school_id = ANY(%(schools)s)")
            params["schools"] = list(schools)
        for name, clause, value in (("status", "f.status = %(status)s", status),
                                    ("since", "f.planned_on >= %(since)s", since),
                                    ("until", "f.planned_on <= %(until)s", until)):
            if value is not None:
                where.append(clause)
                params[name] = value
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT f.*, s.name AS school_name FROM inspection_findings f "
                "LEFT JOIN schools s ON s.school_id = f.school_id "
                f"WHERE {' AND '.join(where)} ORDER BY f.planned_on DESC, f.unit_code, f.finding_id LIMIT 5000",
                params).fetchall()
            labels = names.on(conn, {r["unit_code"] for r in rows} | {r["escalated_to"] for r in rows
                                                                     if r["escalated_to"]}, day)
        for r in rows:
            r["unit_name"] = labels.get(r["unit_code"], r["unit_code"])
            r["escalated_to_name"] = labels.get(r["escalated_to"], r["escalated_to"]) if r["escalated_to"] else None
        return rows

    def alerts(self, code: str, schools: tuple[str, ...] | None) -> list[dict[str, Any]]:
        where, params = "recipient_code LIKE %(code)s", {"code": code + "%"}
        if schools is not None:
            where += " AND (school_id = ANY(%(schools)s))"
            params["schools"] = list(schools)
        with self.db.transaction() as conn:
            return conn.execute(f"SELECT * FROM inspection_alerts WHERE {where} ORDER BY at DESC, finding_id "
                                "LIMIT 2000", params).fetchall()

    def clear(self) -> None:
        with self.db.transaction() as conn:
            conn.execute("TRUNCATE inspection_findings")
