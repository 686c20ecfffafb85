"""Reporting HTTP API: ledgers (台账) with exports, dashboards per level, case timelines, limited to the caller's
jurisdiction; monthly reports, the BI feed and the web pages. Each module here mounts one group of routes."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.application.exchange import ProvincialExchange
from services.reporting.application.inspections import Inspections
from services.reporting.application.monthly import MonthlyReports
from services.reporting.application.reading import Reading
from services.reporting.application.scorecards import Scorecards
from services.reporting.entrypoints.api import bi, dashboards, ledgers, pages, reports, scorecards
from services.reporting.entrypoints.api import exchange as exchange_routes
from services.reporting.entrypoints.api import inspections as inspection_routes
from services.reporting.roles import MATRIX, WITHOUT_REPORTS
from services.runtime.bootstrap import Runtime, base_app
from services.runtime.readaudit import ReadAudit, reads_router
from services.runtime.web import seal


def create_app(runtime: Runtime, reads: Reading, monthly: MonthlyReports | None = None,
               cards: Scorecards | None = None, *, inspections: Inspections | None = None,
               exchange: ProvincialExchange | None = None) -> FastAPI:
    """The reporting API over its reading use cases (and, when given, monthly reports, scorecards, inspections,
    the provincial exchange)."""
    matrix = MATRIX if monthly is not None else WITHOUT_REPORTS
    if inspections is None or exchange is None:
        matrix = matrix.without("/v1/inspections").without("/v1/exchange")
    app = base_app(
        runtime,
        title="Baoxue reporting (台账与统计)",
        description="Ledgers, per-level dashboards, case timelines, monthly reports and the BI feed. "
        "Every request needs a bearer token; every answer is limited to the caller's jurisdiction.",
        roles=matrix,
    )
    app.state.read_audit = ReadAudit(runtime.db, runtime.clock)
    app.include_router(ledgers.router(reads))
    app.include_router(dashboards.router(reads))
    app.include_router(reads_router())
    app.include_router(bi.router(reads))
    if monthly is not None:
        app.include_router(reports.router(monthly))
    if cards is not None:
        app.include_router(scorecards.router(cards))
    if inspections is not None and exchange is not None:
        app.include_router(inspection_routes.router(inspections))
        app.include_router(exchange_routes.router(exchange))
    pages.mount(app)
    return seal(app)
