"""Reporting bootstrap, the composition root: settings, runtime, read models and the report store, then the
use cases handed to the API, the projection consumer, the month-end scheduler or the operator commands."""

from __future__ import annotations

import threading
from typing import Any

from services.reporting.adapters.exchange import Mapping
from services.reporting.adapters import inspection_publishing
from services.reporting.adapters.inspection_index import InspectionIndex
from services.reporting.adapters.monthly_figures import MonthFigures
from services.reporting.adapters.publishing import facts_from, to_contract
from services.reporting.adapters.queries import ReportingQueries
from services.reporting.adapters.scorecards import ScorecardConfig
from services.reporting.adapters.report_index import ReportIndex
from services.reporting.adapters.schema import install
from services.reporting.application.exchange import ProvincialExchange
from services.reporting.application.inspections import Inspections, InspectionsApplication
from services.reporting.application.monthly import MonthlyReports, ReportsApplication
from services.reporting.application.reading import Reading
from services.reporting.application.scorecards import Scorecards
from services.reporting.domain.scorecards import NoticeRules
from services.reporting.entrypoints import inspection_scheduler, scheduler
from services.reporting.entrypoints.api import create_app
from services.reporting.entrypoints.cli import Operator, build_cli
from services.reporting.entrypoints.consumers import CONSUMER, TOPICS, batch_scope, policies, prepare_batch
from services.reporting.settings import ReportingSettings
from contracts import topics
from services.runtime.bootstrap import ConsumerSpec, Runtime, build_runtime, event_store, run_relay, scheduler_claim
from services.runtime.bootstrap import run_api as run_api_workers
from services.runtime.bootstrap import run_migrate
from services.runtime.consumer import OFFSETS_DDL, ProjectionSink
from services.runtime.process import StopFlag

SERVICE = "reporting"


def reports_for(runtime: Runtime, settings: ReportingSettings) -> MonthlyReports:
    """The monthly report use cases on reporting's own event store, its index and the month's figures."""
    app = event_store(runtime, ReportsApplication)
    return MonthlyReports(app, ReportIndex(runtime.db), MonthFigures(runtime.db, settings.reporting_targets),
                          runtime.clock)


def scorecards_for(runtime: Runtime, settings: ReportingSettings, reports: MonthlyReports) -> Scorecards:
    """The scorecard use cases on the read models, the configuration table and the report store."""
    return Scorecards(ReportingQueries(runtime.db, runtime.clock), ScorecardConfig(runtime.db), runtime.clock,
                      settings.reporting_due_day, reports.app, NoticeRules.of(settings.scorecard_notice))


def inspections_for(runtime: Runtime, settings: ReportingSettings, cards: Scorecards | None = None) -> Inspections:
    """The inspection use cases on their own event store (table inspections_events) and their index (and the
    scorecards, for the 通报's scorecard lists)."""
    app = event_store(runtime, InspectionsApplication)
    return Inspections(app, InspectionIndex(runtime.db), runtime.clock, settings.inspection_remind_days, cards)


def api(settings: ReportingSettings | None = None, clock: Any = None) -> tuple[Any, Runtime]:
    settings = settings or ReportingSettings()
    runtime = build_runtime(SERVICE, "api", settings, clock)
    install(runtime.db)
    runtime.db.ensure_tables(OFFSETS_DDL)
    reads = Reading(ReportingQueries(runtime.db, runtime.clock), runtime.clock, settings.reporting_targets)
    reports = reports_for(runtime, settings)
    cards = scorecards_for(runtime, settings, reports)
    return create_app(runtime, reads, reports, cards, inspections=inspections_for(runtime, settings, cards),
                      exchange=ProvincialExchange(reads, Mapping.load())), runtime


def api_factory() -> Any:
    """One API worker's app (uvicorn ``factory=True``): each worker builds its own runtime and pools."""
    return api()[0]


def run_api() -> None:
    """Serves the API; ``BAOXUE_API_WORKERS`` > 1 runs that many uvicorn worker processes on the port."""
    settings = ReportingSettings()
    run_api_workers(SERVICE, settings, lambda: api(settings), "services.reporting.bootstrap:api_factory")


def run_relay_process() -> None:
    """Publishes the report store's events (monthly reports, scorecards) on reporting's topic."""
    settings = ReportingSettings()
    runtime = build_runtime(SERVICE, "relay", settings)
    install(runtime.db)
    app = event_store(runtime, ReportsApplication)
    run_relay(runtime, app, topics.REPORTING,
              lambda e: to_contract(e, facts_from(app), settings.reporting_due_day))


INSPECTION_RELAY = "inspection-relay"


def run_inspection_relay_process() -> None:
    """Publishes the inspection store's events (督导检查) on their own topic, ``baoxue.inspections.v1``: the store's
    notification sequence is its own, so it has its own relay position, lock and consumers' dedupe keys."""
    settings = ReportingSettings()
    runtime = build_runtime(SERVICE, INSPECTION_RELAY, settings)
    install(runtime.db)
    app = event_store(runtime, InspectionsApplication)
    facts = inspection_publishing.facts_from(app)
    run_relay(runtime, app, topics.INSPECTIONS, lambda e: inspection_publishing.to_contract(e, facts),
              store="inspections")


def consumer(role: str = "consumer") -> ConsumerSpec:
    """The reporting consumer as wired here (its process and ``baoxue deadletters replay`` use it)."""
    settings = ReportingSettings()
    runtime = build_runtime(SERVICE, role, settings)
    install(runtime.db)
    return ConsumerSpec(runtime, name=CONSUMER, topics=TOPICS, policies=policies(settings.kafka_partitions),
                        sink=ProjectionSink(runtime.db, CONSUMER, scope=batch_scope,
                                            prepare=prepare_batch(settings.kafka_partitions)))


def run_consumer_process() -> None:
    consumer().run()


def run_scheduler() -> None:
    """Seals last month's reports once the month is over, restates sealed months once a day, reminds units whose
    report is due, marks late ones overdue, and publishes last month's scorecards after the due day; beside it,
    the inspections' timer (rectification reminders, deadlines passed, escalation; idempotent) in a thread."""
    settings = ReportingSettings()
    runtime = build_runtime(SERVICE, "scheduler", settings)
    runtime.metrics.serve(settings.worker_metrics_port(SERVICE, "scheduler"), settings.host)
    install(runtime.db)
    stop = StopFlag().install()
    threading.Thread(target=inspection_scheduler.run, args=(inspections_for(runtime, settings),), daemon=True,
                     kwargs={"logger": runtime.logger, "interval_s": settings.reporting_seal_check_s,
                             "should_stop": stop}).start()
    reports = reports_for(runtime, settings)
    scheduler.run(reports, clock=runtime.clock, logger=runtime.logger,
                  root=settings.reporting_root, interval_s=settings.reporting_seal_check_s,
                  should_stop=stop, claim=scheduler_claim(runtime), metrics=runtime.metrics,
                  cards=scorecards_for(runtime, settings, reports),
                  due_day=settings.reporting_due_day, remind_days=settings.reporting_remind_days)


def operator(role: str) -> Operator:
    """What an operator command works on: the database (read models installed) and, when asked, the monthly reports."""
    settings = ReportingSettings()
    runtime = build_runtime(SERVICE, role, settings)
    install(runtime.db)
    return Operator(runtime.db, lambda: reports_for(runtime, settings))


cli = build_cli(operator)
ROLES = {"api": run_api, "relay": run_relay_process, "consumer": run_consumer_process, "scheduler": run_scheduler,
         INSPECTION_RELAY: run_inspection_relay_process}
EVENT_STORES = (ReportsApplication, InspectionsApplication)  # created by the migrate Job
ROLES["migrate"] = lambda: run_migrate(SERVICE, ReportingSettings(), EVENT_STORES)  # one-shot
CONSUMERS = {CONSUMER: consumer}  # consumer name -> its wiring (``baoxue deadletters``)
