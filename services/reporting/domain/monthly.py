"""The monthly report aggregate: sealed once with its content hash and the event positions it covers;
submitted by its own jurisdiction, approved from above after all its children; corrections are restatements."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.reporting.domain.calendar import start_of
from services.runtime.clock import CHINA
from services.reporting.domain.errors import ReportError, ReportForbidden

NAMESPACE = uuid.UUID("6f1d3c2e-7b0a-4c55-9a51-8a0e6f0b5e21")
OFFICERS = ("province_officer", "prefecture_officer", "county_officer", "township_officer")


def content_hash(unit: str, month: str, figures: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of what the report says (who, which month, the figures)."""
    text = json.dumps({"unit": unit, "month": month, "figures": figures}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def report_id(unit: str, month: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{unit}|{month}")


def month_bounds(month: str) -> tuple[date, datetime]:
    """'2025-09' → its first day and the first instant after it (China time)."""
    first = date.fromisoformat(f"{month}-01")
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, start_of(nxt)


def due_on(month: str, due_day: int = 5) -> date:
    """The day a month's report must be submitted by (月报告制度: the 5th of the next month by default)."""
    first = date.fromisoformat(f"{month}-01")
    return date(first.year + (first.month == 12), first.month % 12 + 1, due_day)


def parent_code(code: str, school_id: str | None) -> str | None:
    """The division of the level above a unit (a school's: its township)."""
    if school_id:
        return code
    return {4: code[:2], 6: code[:4], 9: code[:6]}.get(len(code))


def parent_unit(unit: str, code: str) -> str | None:
    """The unit a report goes up to: a school's township, a township's county, ... (None for the province)."""
    if unit.startswith("school:"):
        return code
    return {4: code[:2], 6: code[:4], 9: code[:6]}.get(len(code))


def require_inside(report: "MonthlyReport", actor: Any) -> None:
    """Only readers inside the report's jurisdiction see it."""
    if not (report.code.startswith(actor.jurisdiction)):
        raise ReportForbidden("月报不在您的辖区内", "out_of_jurisdiction_read")


def require_own(report: "MonthlyReport", actor: Any) -> None:
    """A report is submitted by its own unit (school staff of the school, or its township, for a school's)."""
    own = report.code.startswith(actor.jurisdiction) and len(actor.jurisdiction) == len(report.code)
    if report.school_id:
        own = actor.role in ("school_staff", "township_officer") and report.code.startswith(actor.jurisdiction) \
            and (actor.role != "school_staff" or not actor.schools or report.school_id in actor.schools)
    if actor.role != "admin" and not own:
        raise ReportForbidden("只有本级（本校）可以上报该月报", "submit_own")


def require_above(report: "MonthlyReport", actor: Any) -> None:
    """A report is approved or sent back by an officer of a level above it."""
    above = actor.role in OFFICERS and report.code.startswith(actor.jurisdiction) and (
        len(actor.jurisdiction) < len(report.code) or bool(report.school_id))
    if actor.role != "admin" and not above:
        raise ReportForbidden("只有上级可以审核该月报", "approve_from_above")


class MonthlyReport(Aggregate):
    """One jurisdiction's (or school's) report for one month."""

    @staticmethod
    def create_id(unit: str, month: str, **_: Any) -> uuid.UUID:
        return report_id(unit, month)

    @event("Sealed")
    def __init__(self, unit: str, month: str, code: str, school_id: str | None, level: str, name: str,
                 figures: dict[str, Any], content_hash: str, positions: dict[str, Any], cutoff: str,
                 sealed_at: str) -> None:
        self.unit, self.month, self.code, self.school_id, self.level, self.name = unit, month, code, school_id, level, name
        self.figures, self.content_hash, self.positions = figures, content_hash, positions
        self.cutoff, self.sealed_at = cutoff, sealed_at
        self.status = "sealed"
        self.history: list[dict[str, Any]] = [{"action": "sealed", "at": sealed_at, "by": "system"}]
        self.restatements: list[dict[str, Any]] = []
        self.submitted_at: str | None = None  # the first submission: what timeliness is judged on
        self.reminded_for: str | None = None
        self.overdue_since: str | None = None

    @property
    def current_hash(self) -> str:
        return self.restatements[-1]["content_hash"] if self.restatements else self.content_hash

    @property
    def current_figures(self) -> dict[str, Any]:
        return self.restatements[-1]["figures"] if self.restatements else self.figures

    def submit(self, by: str, role: str, at: str) -> None:
        if self.status not in ("sealed", "sent_back"):
            raise ReportError(f"月报状态为 {self.status}，不能再次上报", "submit_once")
        self._submitted(by=by, role=role, at=at)

    @event("Submitted")
    def _submitted(self, by: str, role: str, at: str) -> None:
        self.status = "submitted"
        self.submitted_at = self.submitted_at or at
        self.history.append({"action": "submitted", "at": at, "by": by, "role": role})

    def approve(self, by: str, role: str, at: str, children_pending: list[str]) -> None:
        if self.status != "submitted":
            raise ReportError("月报尚未上报，不能审核通过", "approve_after_submit")
        if children_pending:
            raise ReportError(f"下级月报尚未全部审核通过：{', '.join(children_pending[:10])}", "children_first")
        self._approved(by=by, role=role, at=at)

    @event("Approved")
    def _approved(self, by: str, role: str, at: str) -> None:
        self.status = "approved"
        self.history.append({"action": "approved", "at": at, "by": by, "role": role})

    def send_back(self, by: str, role: str, at: str, reason: str) -> None:
        if self.status != "submitted":
            raise ReportError("只有已上报的月报可以退回", "send_back_submitted")
        self._sent_back(by=by, role=role, at=at, reason=reason)

    @event("SentBack")
    def _sent_back(self, by: str, role: str, at: str, reason: str) -> None:
        self.status = "sent_back"
        self.history.append({"action": "sent_back", "at": at, "by": by, "role": role, "reason": reason})

    def restate(self, figures: dict[str, Any], content_hash: str, positions: dict[str, Any], at: str) -> bool:
        """Records a restatement when what the month says now differs from the last statement."""
        if content_hash == self.current_hash:
            return False
        changes = {k: {"sealed": self.figures.get(k), "previous": self.current_figures.get(k), "now": v}
                   for k, v in figures.items() if v != self.current_figures.get(k)}
        self._restated(figures=figures, content_hash=content_hash, positions=positions, at=at, changes=changes)
        return True

    @event("Restated")
    def _restated(self, figures: dict[str, Any], content_hash: str, positions: dict[str, Any], at: str,
                  changes: dict[str, Any]) -> None:
        self.restatements.append({"number": len(self.restatements) + 1, "figures": figures,
                                  "content_hash": content_hash, "positions": positions, "at": at, "changes": changes})
        self.history.append({"action": "restated", "at": at, "by": "system", "number": len(self.restatements)})

    # -- reminders and lateness (the scheduler records them; notifications tells the unit and the level above)
    @property
    def waiting(self) -> bool:
        """Not submitted yet (or sent back and not submitted again)."""
        return self.status in ("sealed", "sent_back")

    def on_time(self, due: date) -> bool | None:
        """Submitted by the due day (China time): True/False; None while never submitted."""
        if self.submitted_at is None:
            return None
        return datetime.fromisoformat(self.submitted_at).astimezone(CHINA).date() <= due

    def remind(self, due: date, at: str) -> bool:
        """Records one reminder per due day while the report waits for its unit."""
        if not self.waiting or self.submitted_at is not None or self.reminded_for == due.isoformat():
            return False
        self._reminded(due_on=due.isoformat(), at=at)
        return True

    @event("Reminded")
    def _reminded(self, due_on: str, at: str) -> None:
        self.reminded_for = due_on
        self.history.append({"action": "reminded", "at": at, "by": "system", "due_on": due_on})

    def mark_overdue(self, due: date, at: str) -> bool:
        """Records once that the due day passed without a submission."""
        if self.submitted_at is not None or self.overdue_since is not None:
            return False
        self._overdue(due_on=due.isoformat(), at=at)
        return True

    @event("Overdue")
    def _overdue(self, due_on: str, at: str) -> None:
        self.overdue_since = at
        self.history.append({"action": "overdue", "at": at, "by": "system", "due_on": due_on})
