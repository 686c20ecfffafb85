"""Reporting bootstrap, the composition root: settings, runtime, read models and the report store, then the
use cases handed to the API, the projection consumer, the month-end scheduler or the operator commands."""

from __future__ import annotations

from typing import Any

from services.reporting.adapters.monthly_figures import MonthFigures
from services.reporting.adapters.queries import ReportingQueries
from services.reporting.adapters.report_index import ReportIndex
from services.reporting.adapters.schema import install
from services.reporting.application.monthly import MonthlyReports, ReportsApplication
from services.reporting.application.reading import Reading
from services.reporting.entrypoints import scheduler
from services.reporting.entrypoints.api import create_app
from services.reporting.entrypoints.cli import Operator, build_cli
from services.reporting.entrypoints.consumers import CONSUMER, TOPICS, batch_scope, policies, prepare_batch
from services.reporting.settings import ReportingSettings
from services.runtime.bootstrap import Runtime, build_runtime, run_consumer, serve
from services.runtime.bootstrap import run_migrate
from services.runtime.consumer import OFFSETS_DDL, ProjectionSink
from services.runtime.eventstore import build_application
from services.runtime.process import StopFlag

SERVICE = "reporting"


def reports_for(runtime: Runtime, settings: ReportingSettings) -> MonthlyReports:
    """The monthly report use cases on reporting's own event store, its index and the month's figures."""
    app = build_application(ReportsApplication, settings, SERVICE)
    return MonthlyReports(app, ReportIndex(runtime.db), MonthFigures(runtime.db, settings.reporting_targets),
                          runtime.clock)


def api(settings: ReportingSettings | None = None, clock: Any = None) -> tuple[Any, Runtime]:
    settings = settings or ReportingSettings()
    runtime = build_runtime(SERVICE, "api", settings, clock)
    install(runtime.db)
    runtime.db.execute_script(OFFSETS_DDL)
    reads = Reading(ReportingQueries(runtime.db, runtime.clock), runtime.clock, settings.reporting_targets)
    return create_app(runtime, reads, reports_for(runtime, settings)), runtime


def run_api() -> None:
    app, runtime = api()
    serve(app, runtime)


def run_consumer_process() -> None:
    settings = ReportingSettings()
    runtime = build_runtime(SERVICE, "consumer", settings)
    install(runtime.db)
    run_consumer(runtime, name=CONSUMER, topics=TOPICS, policies=policies(settings.kafka_partitions),
                 sink=ProjectionSink(runtime.db, CONSUMER, scope=batch_scope,
                                      prepare=prepare_batch(settings.kafka_partitions)))


def run_scheduler() -> None:
    """Seals last month's reports once the month is over, and restates sealed months once a day."""
    settings = ReportingSettings()
    runtime = build_runtime(SERVICE, "scheduler", settings)
    runtime.metrics.serve(settings.worker_metrics_port(SERVICE, "scheduler"), settings.host)
    install(runtime.db)
    scheduler.run(reports_for(runtime, settings), clock=runtime.clock, logger=runtime.logger,
                  root=settings.reporting_root, interval_s=settings.reporting_seal_check_s,
                  should_stop=StopFlag().install())


def operator(role: str) -> Operator:
    """What an operator command works on: the database (read models installed) and, when asked, the monthly reports."""
    settings = ReportingSettings()
    runtime = build_runtime(SERVICE, role, settings)
    install(runtime.db)
    return Operator(runtime.db, lambda: reports_for(runtime, settings))


cli = build_cli(operator)
ROLES = {"api": run_api, "consumer": run_consumer_process, "scheduler": run_scheduler}
ROLES["migrate"] = lambda: run_migrate(SERVICE, ReportingSettings())  # one-shot: the schema to the code's head
