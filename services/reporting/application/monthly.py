"""Monthly report use cases: seal a month for every unit, restate it, submit and approve bottom-up, read.

Figures come from the inbox folded up to the month's end by when things happened (effective time), so a
later correction about the month shows up as a restatement while the sealed statement stays as it was.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.reporting import dashboards, inbox
from services.reporting.monthly.domain import MonthlyReport, ReportError, content_hash, report_id
from services.reporting.queries import Scope, View
from services.reporting.rebuild import as_of
from services.runtime.auth import Actor
from services.runtime.db import Database
from services.runtime.eventstore import ServiceApplication

INDEX_DDL = """
CREATE TABLE IF NOT EXISTS monthly_reports (
    report_id uuid PRIMARY KEY, month text NOT NULL, unit text NOT NULL, code text NOT NULL, school_id text,
    level text NOT NULL, name text NOT NULL, parent_unit text, status text NOT NULL, content_hash text NOT NULL,
    current_hash text NOT NULL, restatements int NOT NULL, sealed_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS monthly_reports_month_code ON monthly_reports (month, code text_pattern_ops);
"""
OFFICERS = ("province_officer", "prefecture_officer", "county_officer", "township_officer")


class ReportsApplication(ServiceApplication):
    name = "MonthlyReports"


def month_bounds(month: str) -> tuple[date, datetime]:
    """'2025-09' → its first day and the first instant after it (China time)."""
    first = date.fromisoformat(f"{month}-01")
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, inbox.start_of(nxt)


def parent_unit(unit: str, code: str) -> str | None:
    if unit.startswith("school:"):
        return code
    return {4: code[:2], 6: code[:4], 9: code[:6]}.get(len(code))


def _json(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


class MonthlyReports:
    """Use cases over the report store and its index."""

    def __init__(self, app: ReportsApplication, db: Database, clock: Any, targets: dict[str, dict[str, float]]) -> None:
        self.app, self.db, self.clock, self.targets = app, db, clock, targets
        db.execute_script(INDEX_DDL)

    # -- figures ---------------------------------------------------------------------------------
    def compute(self, month: str, root: str = "") -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """Every unit's figures for the month as now known, and the event positions they cover."""
        _, cutoff = month_bounds(month)
        with self.db.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            positions = conn.execute(
                "SELECT topic, partition, max(sequence) AS sequence, count(*) AS events FROM inbox "
                "WHERE effective_time < %s GROUP BY topic, partition ORDER BY topic, partition", (cutoff,)
            ).fetchall()
            with as_of(conn, effective_before=cutoff):
                view = View(conn, cutoff, cutoff, {})
                units = dashboards.all_units(view, Scope(root), self.targets)
        covered = {"cutoff": cutoff.isoformat(), "partitions": _json([dict(p) for p in positions])}
        return {u: _json(v) for u, v in units.items()}, covered

    # -- sealing and restating -------------------------------------------------------------------
    def seal(self, month: str, root: str = "") -> int:
        """Seals the month for every unit not sealed yet; returns how many were sealed."""
        units, covered = self.compute(month, root)
        now = self.clock.now().isoformat()
        new = []
        for unit, data in units.items():
            if self._exists(report_id(unit, month)):
                continue
            figures = {k: v for k, v in data["figures"].items()}
            new.append(MonthlyReport(
                unit=unit, month=month, code=data["code"], school_id=data.get("school_id"), level=data["level"],
                name=data["name"], figures=figures, content_hash=content_hash(unit, month, figures),
                positions=covered, cutoff=covered["cutoff"], sealed_at=now,
            ))
        for i in range(0, len(new), 200):
            self.app.save(*new[i:i + 200])
        self._index(new)
        return len(new)

    def restate(self, month: str, root: str = "") -> int:
        """Compares each sealed report with what is known now; records a restatement where it differs."""
        units, covered = self.compute(month, root)
        now = self.clock.now().isoformat()
        changed = []
        for unit, data in units.items():
            rid = report_id(unit, month)
            if not self._exists(rid):
                continue
            report: MonthlyReport = self.app.repository.get(rid)
            # a measure added to the dashboards after sealing is not a correction of the month
            figures = {k: v for k, v in data["figures"].items() if k in report.figures}
            if report.restate(figures, content_hash(unit, month, figures), covered, now):
                changed.append(report)
        if changed:
            self.app.save(*changed)
            self._index(changed)
        return len(changed)

    # -- bottom-up workflow ----------------------------------------------------------------------
    def submit(self, rid: str, actor: Actor) -> dict[str, Any]:
        report = self._get(rid)
        self._require_own(report, actor)
        report.submit(actor.user_id, actor.role, self.clock.now().isoformat())
        return self._save(report)

    def approve(self, rid: str, actor: Actor) -> dict[str, Any]:
        report = self._get(rid)
        self._require_above(report, actor)
        with self.db.transaction() as conn:
            pending = [r["unit"] for r in conn.execute(
                "SELECT unit FROM monthly_reports WHERE month = %s AND parent_unit = %s AND status <> 'approved' "
                "ORDER BY unit", (report.month, report.unit)).fetchall()]
        report.approve(actor.user_id, actor.role, self.clock.now().isoformat(), pending)
        return self._save(report)

    def send_back(self, rid: str, actor: Actor, reason: str) -> dict[str, Any]:
        report = self._get(rid)
        self._require_above(report, actor)
        report.send_back(actor.user_id, actor.role, self.clock.now().isoformat(), reason)
        return self._save(report)

    # -- reads -----------------------------------------------------------------------------------
    def get(self, rid: str, actor: Actor) -> dict[str, Any]:
        report = self._get(rid)
        if not (report.code.startswith(actor.jurisdiction)):
            raise ReportError("月报不在您的辖区内", "out_of_jurisdiction_read")
        return public(report)

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

    def rebuild_index(self) -> int:
        """Rebuilds the report index from the report store (it is a projection too)."""
        reports, start = [], 1
        while True:
            page = self.app.recorder.select_notifications(start=start, limit=1000)
            reports.extend(n.originator_id for n in page)
            if len(page) < 1000:
                break
            start = page[-1].id + 1
        ids = list(dict.fromkeys(reports))
        with self.db.transaction() as conn:
            conn.execute("TRUNCATE monthly_reports")
        self._index([self.app.repository.get(i) for i in ids])
        return len(ids)

    # -- helpers ---------------------------------------------------------------------------------
    def _exists(self, rid: Any) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("SELECT 1 FROM monthly_reports WHERE report_id = %s", (rid,)).fetchone() is not None

    def _get(self, rid: str) -> MonthlyReport:
        from eventsourcing.application import AggregateNotFoundError
        import uuid

        try:
            return self.app.repository.get(uuid.UUID(str(rid)))
        except (AggregateNotFoundError, ValueError) as exc:
            raise LookupError(f"月报 {rid} 不存在") from exc

    def _save(self, report: MonthlyReport) -> dict[str, Any]:
        self.app.save(report)
        self._index([report])
        return public(report)

    @staticmethod
    def _require_own(report: MonthlyReport, actor: Actor) -> None:
        own = report.code.startswith(actor.jurisdiction) and len(actor.jurisdiction) == len(report.code)
        if report.school_id:
            own = actor.role in ("school_staff", "township_officer") and report.code.startswith(actor.jurisdiction) \
                and (actor.role != "school_staff" or not actor.schools or report.school_id in actor.schools)
        if actor.role != "admin" and not own:
            raise ReportError("只有本级（本校）可以上报该月报", "submit_own")

    @staticmethod
    def _require_above(report: MonthlyReport, actor: Actor) -> None:
        above = actor.role in OFFICERS and report.code.startswith(actor.jurisdiction) and (
            len(actor.jurisdiction) < len(report.code) or bool(report.school_id))
        if actor.role != "admin" and not above:
            raise ReportError("只有上级可以审核该月报", "approve_from_above")

    def _index(self, reports: list[MonthlyReport]) -> None:
        with self.db.transaction() as conn:
            for r in reports:
                conn.execute(
                    "INSERT INTO monthly_reports VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                    "ON CONFLICT (report_id) DO UPDATE SET status = EXCLUDED.status, "
                    "current_hash = EXCLUDED.current_hash, restatements = EXCLUDED.restatements, "
                    "updated_at = EXCLUDED.updated_at",
                    (r.id, r.month, r.unit, r.code, r.school_id, r.level, r.name, parent_unit(r.unit, r.code),
                     r.status, r.content_hash, r.current_hash, len(r.restatements), r.sealed_at,
                     r.modified_on),
                )


def public(r: MonthlyReport) -> dict[str, Any]:
    """What a reader sees of a report: the sealed statement, its restatements and its history."""
    return {
        "report_id": str(r.id), "month": r.month, "unit": r.unit, "code": r.code, "school_id": r.school_id,
        "level": r.level, "name": r.name, "status": r.status, "sealed_at": r.sealed_at, "cutoff": r.cutoff,
        "content_hash": r.content_hash, "figures": r.figures, "positions": r.positions,
        "current_hash": r.current_hash, "current_figures": r.current_figures, "restatements": r.restatements,
        "history": r.history, "version": r.version,
    }
