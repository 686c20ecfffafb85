"""Monthly report use cases: seal a month for every unit, restate it, submit and approve bottom-up, read.

Figures come from the inbox folded up to the month's end by when things happened (effective time), so a
later correction about the month shows up as a restatement while the sealed statement stays as it was.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from eventsourcing.utils import register_topic

from services.reporting.application.ports import MonthFigures, ReportIndex
from services.reporting.adapters.queries import Scope
from services.reporting.domain import monthly as monthly_domain
from services.reporting.domain.errors import ReportNotFound
from services.reporting.domain.monthly import (
    MonthlyReport, content_hash, report_id, require_above, require_inside, require_own,
)
from services.runtime.aggregates import load, require, save_with_retry
from services.runtime.auth import Actor
from services.runtime.eventstore import ServiceApplication

# Stored events name their class by topic; the aggregate lived in services/reporting/monthly/domain.py before.
register_topic("services.reporting.monthly.domain", monthly_domain)


class ReportsApplication(ServiceApplication):
    name = "MonthlyReports"


class MonthlyReports:
    """Use cases over the report store, its index and the month's figures (collaborators from the bootstrap)."""

    def __init__(self, app: ReportsApplication, index: ReportIndex, figures: MonthFigures, clock: Any) -> None:
        self.app, self.index, self.figures, self.clock = app, index, figures, clock

    # -- sealing and restating -------------------------------------------------------------------
    def seal(self, month: str, root: str = "") -> int:
        """Seals the month for every unit not sealed yet; returns how many were sealed."""
        units, covered = self.figures.compute(month, root)
        now = self.clock.now().isoformat()
        new = []
        for unit, data in units.items():
            if self.index.exists(report_id(unit, month)):
                continue
            figures = {k: v for k, v in data["figures"].items()}
            new.append(MonthlyReport(
                unit=unit, month=month, code=data["code"], school_id=data.get("school_id"), level=data["level"],
                name=data["name"], figures=figures, content_hash=content_hash(unit, month, figures),
                positions=covered, cutoff=covered["cutoff"], sealed_at=now,
            ))
        for i in range(0, len(new), 200):
            self.app.save(*new[i:i + 200])
        self.index.put(new)
        return len(new)

    def restate(self, month: str, root: str = "") -> int:
        """Compares each sealed report with what is known now; records a restatement where it differs."""
        units, covered = self.figures.compute(month, root)
        now = self.clock.now().isoformat()
        changed = []
        for unit, data in units.items():
            rid = report_id(unit, month)
            if not self.index.exists(rid):
                continue
            report = self._get(rid)
            # a measure added to the dashboards after sealing is not a correction of the month
            figures = {k: v for k, v in data["figures"].items() if k in report.figures}
            if report.restate(figures, content_hash(unit, month, figures), covered, now):
                changed.append(report)
        if changed:
            self.app.save(*changed)
            self.index.put(changed)
        return len(changed)

    # -- reminders and lateness --------------------------------------------------------------------
    def chase(self, month: str, today: Any, due_day: int = 5, remind_days: int = 3, root: str = "") -> dict[str, int]:
        """Reminds waiting units from ``remind_days`` before the due day; marks them overdue the day after it."""
        due = monthly_domain.due_on(month, due_day)
        if today < due - timedelta(days=remind_days):
            return {"reminded": 0, "overdue": 0}
        now = self.clock.now().isoformat()
        done = {"reminded": 0, "overdue": 0}
        for row in self.index.list(Scope(root), month):
            if row["status"] not in ("sealed", "sent_back"):
                continue
            report = self._get(row["report_id"])
            changed = report.mark_overdue(due, now) if today > due else report.remind(due, now)
            if changed:
                self.app.save(report)
                done["overdue" if today > due else "reminded"] += 1
        return done

    # -- bottom-up workflow ----------------------------------------------------------------------
    def submit(self, rid: str, actor: Actor) -> dict[str, Any]:
        def attempt() -> MonthlyReport:
            report = self._get(rid)
            require_own(report, actor)
            report.submit(actor.user_id, actor.role, self.clock.now().isoformat())
            return report

        return self._saved(attempt)

    def approve(self, rid: str, actor: Actor) -> dict[str, Any]:
        def attempt() -> MonthlyReport:
            report = self._get(rid)
            require_above(report, actor)
            pending = self.index.pending_children(report.month, report.unit)
            report.approve(actor.user_id, actor.role, self.clock.now().isoformat(), pending)
            return report

        return self._saved(attempt)

    def send_back(self, rid: str, actor: Actor, reason: str) -> dict[str, Any]:
        def attempt() -> MonthlyReport:
            report = self._get(rid)
            require_above(report, actor)
            report.send_back(actor.user_id, actor.role, self.clock.now().isoformat(), reason)
            return report

        return self._saved(attempt)

    # -- reads -----------------------------------------------------------------------------------
    def get(self, rid: str, actor: Actor) -> dict[str, Any]:
        report = self._get(rid)
        require_inside(report, actor)
        return public(report)

    def list(self, scope: Any, month: str | None) -> list[dict[str, Any]]:
        return self.index.list(scope, month)

    def rebuild_index(self) -> int:
        """Rebuilds the report index from the report store (it is a projection too)."""
        reports, start = [], 1
        while True:
            page = self.app.recorder.select_notifications(start=start, limit=1000)
            reports.extend(n.originator_id for n in page)
            if len(page) < 1000:
                break
            start = page[-1].id + 1
        found = [load(self.app.repository, MonthlyReport, i) for i in dict.fromkeys(reports)]
        kept = [r for r in found if r is not None]  # the store also holds published scorecards
        self.index.clear()
        self.index.put(kept)
        return len(kept)

    # -- helpers ---------------------------------------------------------------------------------
    def _get(self, rid: Any) -> MonthlyReport:
        try:
            aggregate_id = rid if isinstance(rid, uuid.UUID) else uuid.UUID(str(rid))
        except ValueError as exc:
            raise ReportNotFound(f"月报 {rid} 不存在") from exc
        return require(self.app.repository, MonthlyReport, aggregate_id, lambda: ReportNotFound(f"月报 {rid} 不存在"))

    def _saved(self, attempt: Any) -> dict[str, Any]:
        """Load, act, save (again from a fresh load after a concurrent write), then index and show the report."""
        report = save_with_retry(attempt, self.app.save)
        self.index.put([report])
        return public(report)


def public(r: MonthlyReport) -> dict[str, Any]:
    """What a reader sees of a report: the sealed statement, its restatements and its history."""
    return {
        "report_id": str(r.id), "month": r.month, "unit": r.unit, "code": r.code, "school_id": r.school_id,
        "level": r.level, "name": r.name, "status": r.status, "sealed_at": r.sealed_at, "cutoff": r.cutoff,
        "content_hash": r.content_hash, "figures": r.figures, "positions": r.positions,
        "current_hash": r.current_hash, "current_figures": r.current_figures, "restatements": r.restatements,
        "history": r.history, "version": r.version,
    }
