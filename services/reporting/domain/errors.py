"""Reporting's domain errors: each carries its HTTP status (runtime.errors), so the API maps them in one place."""

from __future__ import annotations

from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound


class ReportError(Conflict):
    """A rule of monthly reporting was broken (409 unless the rule is about who may act: ``ReportForbidden``)."""

    code = "report_rule"

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message, rule)


class ReportForbidden(ReportError):
    """A monthly-report rule about who may act (own unit submits, the level above approves, readers inside)."""

    status = 403


class ReportNotFound(NotFound):
    """No monthly report of that id."""


class OutOfJurisdiction(Forbidden):
    """A filter or unit beside the caller's jurisdiction (wider or narrower is fine)."""

    code = "out_of_jurisdiction"


class BadSort(InvalidInput):
    """A ledger sort field the ledger does not offer."""

    code = "bad_sort"


class NothingToShow(NotFound):
    """A case, or figures of a unit, that do not exist inside the caller's jurisdiction (or did not then)."""


class ScorecardInputError(InvalidInput):
    """A scorecard period, figure or configuration value that cannot be right; ``rule`` names the field."""

    code = "invalid_scorecard_input"


class InspectionError(Conflict):
    """A rule of supervision inspections (409 unless the rule says otherwise: bad codes 422, unknown 404)."""

    code = "inspection_rule"

    def __init__(self, message: str, rule: str, status: int | None = None) -> None:
        super().__init__(message, rule)
        if status is not None:
            self.status = status


class InspectionForbidden(InspectionError):
    """An inspection rule about who may act (the inspecting level judges, the inspected unit reports)."""

    status = 403


class InspectionNotFound(NotFound):
    """No inspection of that id (or not inside the caller's jurisdiction)."""
