"""Reporting bootstrap: settings, runtime, read models and report store, then the API, the projection
consumer or the month-end scheduler."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from services.reporting import projections
from services.reporting.api import create_app
from services.reporting.consumers import CONSUMER, TOPICS, batch_scope, policies, prepare_batch
from services.reporting.monthly.application import MonthlyReports, ReportsApplication
from services.reporting.queries import ReportingQueries
from services.reporting.settings import ReportingSettings
from services.runtime.bootstrap import Runtime, build_runtime, run_consumer, serve
from services.runtime.consumer import OFFSETS_DDL, ProjectionSink
from services.runtime.eventstore import build_application
from services.runtime.logging import error_text
from services.runtime.process import StopFlag

SERVICE = "reporting"


def reports_for(runtime: Runtime, settings: ReportingSettings) -> MonthlyReports:
    """The monthly report use cases on reporting's own event store."""
    app = build_application(ReportsApplication, settings, SERVICE)
    return MonthlyReports(app, runtime.db, runtime.clock, settings.reporting_targets)


def api(settings: ReportingSettings | None = None, clock: Any = None) -> tuple[Any, Runtime]:
    settings = settings or ReportingSettings()
    runtime = build_runtime(SERVICE, "api", settings, clock)
    projections.install(runtime.db)
    runtime.db.execute_script(OFFSETS_DDL)
    queries = ReportingQueries(runtime.db, runtime.clock)
    return create_app(runtime, queries, settings.reporting_targets, reports_for(runtime, settings)), runtime


def run_api() -> None:
    app, runtime = api()
    serve(app, runtime)


def run_consumer_process() -> None:
    settings = ReportingSettings()
    runtime = build_runtime(SERVICE, "consumer", settings)
    projections.install(runtime.db)
    run_consumer(runtime, name=CONSUMER, topics=TOPICS, policies=policies(settings.kafka_partitions),
                 sink=ProjectionSink(runtime.db, CONSUMER, scope=batch_scope,
                                      prepare=prepare_batch(settings.kafka_partitions)))


def run_scheduler() -> None:
    """Seals last month's reports once the month is over, and restates sealed months once a day."""
    settings = ReportingSettings()
    runtime = build_runtime(SERVICE, "scheduler", settings)
    runtime.metrics.serve(settings.worker_metrics_port(SERVICE, "scheduler"), settings.host)
    projections.install(runtime.db)
    reports = reports_for(runtime, settings)
    stop = StopFlag().install()
    restated_on = None
    while not stop():
        today = runtime.clock.today()
        previous = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        try:
            sealed = reports.seal(previous, settings.reporting_root)
            if sealed:
                runtime.logger.info("monthly_reports_sealed", month=previous, reports=sealed)
            if restated_on != today:
                restated = reports.restate(previous, settings.reporting_root)
                runtime.logger.info("monthly_reports_checked", month=previous, restated=restated)
                restated_on = today
        except Exception as exc:  # noqa: BLE001 - the scheduler must outlive outages
            runtime.logger.warning("monthly_reports_retrying", error=error_text(exc))
        deadline = time.monotonic() + settings.reporting_seal_check_s
        while not stop() and time.monotonic() < deadline:
            time.sleep(0.5)


ROLES = {"api": run_api, "consumer": run_consumer_process, "scheduler": run_scheduler}
