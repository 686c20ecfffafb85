"""The monthly report index (table ``monthly_reports``): a projection of the report store that lists, finds and
checks reports by month and unit without loading them."""

from __future__ import annotations

from typing import Any, Iterable
from uuid import UUID

from services.reporting.adapters.queries import Scope
from services.reporting.domain.monthly import MonthlyReport, parent_unit
from services.runtime.db import Database

INDEX_DDL = """
CREATE TABLE IF NOT EXISTS monthly_reports (
    report_id uuid PRIMARY KEY, month text NOT NULL, unit text NOT NULL, code text NOT NULL, school_id text,
    level text NOT NULL, name text NOT NULL, parent_unit text, status text NOT NULL, content_hash text NOT NULL,
    current_hash text NOT NULL, restatements int NOT NULL, sealed_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
ALTER TABLE monthly_reports ADD COLUMN IF NOT EXISTS submitted_at timestamptz;  -- the first submission (scorecards)
CREATE INDEX IF NOT EXISTS monthly_reports_month_code ON monthly_reports (month, code text_pattern_ops);
"""


class ReportIndex:
    """The index rows in PostgreSQL (``application.ports.ReportIndex``)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_tables(INDEX_DDL)

    def exists(self, rid: UUID) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("SELECT 1 FROM monthly_reports WHERE report_id = %s", (rid,)).fetchone() is not None

    def pending_children(self, month: str, unit: str) -> list[str]:
        """The units reporting to ``unit`` whose report for the month is not approved yet."""
        with self.db.transaction() as conn:
            return [r["unit"] for r in conn.execute(
                "SELECT unit FROM monthly_reports WHERE month = %s AND parent_unit = %s AND status <> 'approved' "
                "ORDER BY unit", (month, unit)).fetchall()]

    def list(self, scope: Scope, month: str | None) -> list[dict[str, Any]]:
        where, params = "code LIKE %(scope)s", {"scope": scope.jurisdiction + "%"}
        if scope.schools is not None:
            where += " AND school_id = ANY(%(schools)s)"
            params["schools"] = list(scope.schools)
        if month:
            where += " AND month = %(month)s"
            params["month"] = month
        with self.db.transaction() as conn:
            return conn.execute(
                f"SELECT * FROM monthly_reports WHERE {where} ORDER BY month DESC, length(code), code, school_id NULLS FIRST "
                "LIMIT 2000", params).fetchall()

    def clear(self) -> None:
        with self.db.transaction() as conn:
            conn.execute("TRUNCATE monthly_reports")

    def put(self, reports: Iterable[MonthlyReport]) -> None:
        with self.db.transaction() as conn:
            for r in reports:
                conn.execute(
                    "INSERT INTO monthly_reports (report_id, month, unit, code, school_id, level, name, parent_unit, status, "
                    "content_hash, current_hash, restatements, sealed_at, updated_at, submitted_at) "
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                    "ON CONFLICT (report_id) DO UPDATE SET status = EXCLUDED.status, "
                    "current_hash = EXCLUDED.current_hash, restatements = EXCLUDED.restatements, "
                    "updated_at = EXCLUDED.updated_at, submitted_at = EXCLUDED.submitted_at",
                    (r.id, r.month, r.unit, r.code, r.school_id, r.level, r.name, parent_unit(r.unit, r.code),
                     r.status, r.content_hash, r.current_hash, len(r.restatements), r.sealed_at,
                     r.modified_on, getattr(r, "submitted_at", None)),
                )
