"""The stored-event → contract mapping, in the same home and under the same name as every service's: what the
reporting relay publishes of its monthly reports (and scorecards). SentBack stays internal (its reason is free text)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from contracts import Contract
from contracts.events.reporting import (
    MonthlyReportApprovedV1,
    MonthlyReportDueV1,
    MonthlyReportOverdueV1,
    MonthlyReportRestatedV1,
    MonthlyReportSealedV1,
    MonthlyReportSubmittedV1,
    ScorecardPublishedV1,
)
from services.reporting.domain.monthly import MonthlyReport, due_on, parent_code
from services.reporting.domain.scorecards import Scorecard
from services.runtime.clock import CHINA

ReportFacts = Callable[[Any, int | None], dict[str, Any]]  # report id, version -> code, school_id, level, month


def facts_from(app: Any) -> ReportFacts:
    """A report's unit and month, read once from the report store (they never change after sealing)."""
    cache: dict[Any, dict[str, Any]] = {}

    def facts(report_id: Any, version: int | None = None) -> dict[str, Any]:
        """With a version: also how many restatements the report had then (a restatement's number)."""
        if version is not None:
            r = app.repository.get(report_id, version=version)
            return {**facts(report_id), "restatements": len(r.restatements)}
        if report_id not in cache:
            r = app.repository.get(report_id)
            cache[report_id] = {"code": r.code, "school_id": r.school_id, "level": r.level, "month": r.month}
        return cache[report_id]

    return facts


def to_contract(domain_event: Any, facts: ReportFacts | None = None, due_day: int = 5) -> Contract | None:
    """Maps stored report events to public contracts (units, months, hashes, roles: nothing personal)."""
    e = domain_event
    rid = str(e.originator_id)
    if isinstance(e, MonthlyReport.Sealed):
        return MonthlyReportSealedV1(report_id=rid, code=e.code, school_id=e.school_id, level=e.level, month=e.month,
                                     content_hash=e.content_hash, due_on=due_on(e.month, due_day),
                                     sealed_at=e.sealed_at)
    if isinstance(e, Scorecard.Published):
        return ScorecardPublishedV1(scorecard_id=rid, code=e.code, school_id=e.school_id, level=e.level,
                                    period=e.period, score=e.score, rank=e.rank, ranked=e.ranked,
                                    config_version=e.config_version, published_at=e.at)
    if facts is None:
        return None
    name = type(e).__name__
    if name not in _BUILDERS or not isinstance(e, MonthlyReport.Event):
        return None
    unit = {"report_id": rid, **facts(e.originator_id, e.originator_version if name == "Restated" else None)}
    if name != "Restated":
        unit.pop("restatements", None)
    return _BUILDERS[name](e, unit, due_on(unit["month"], due_day))


def _submitted(e: Any, u: dict[str, Any], due: date) -> Contract:
    on_time = datetime.fromisoformat(e.at).astimezone(CHINA).date() <= due
    return MonthlyReportSubmittedV1(**u, submitter_role=e.role, on_time=on_time, submitted_at=e.at)


_BUILDERS: dict[str, Callable[[Any, dict[str, Any], date], Contract]] = {
    "Submitted": _submitted,
    "Approved": lambda e, u, due: MonthlyReportApprovedV1(**u, approver_role=e.role, approved_at=e.at),
    "Restated": lambda e, u, due: MonthlyReportRestatedV1(
        **{k: v for k, v in u.items() if k != "restatements"}, number=u["restatements"], content_hash=e.content_hash, changed=sorted(e.changes), restated_at=e.at),
    "Reminded": lambda e, u, due: MonthlyReportDueV1(**u, due_on=e.due_on, recorded_at=e.at),
    "Overdue": lambda e, u, due: MonthlyReportOverdueV1(
        **u, due_on=e.due_on, parent_code=parent_code(u["code"], u["school_id"]) or u["code"], recorded_at=e.at),
}
