"""Reporting bootstrap: builds settings, runtime and read models, then the API or the projection consumer."""

from __future__ import annotations

from typing import Any

from services.reporting import projections
from services.reporting.api import create_app
from services.reporting.consumers import CONSUMER, POLICIES, TOPICS
from services.reporting.queries import ReportingQueries
from services.reporting.settings import ReportingSettings
from services.runtime.bootstrap import Runtime, build_runtime, run_consumer, serve
from services.runtime.consumer import ProjectionSink

SERVICE = "reporting"


def api(settings: ReportingSettings | None = None) -> tuple[Any, Runtime]:
    settings = settings or ReportingSettings()
    runtime = build_runtime(SERVICE, "api", settings)
    projections.install(runtime.db)
    return create_app(runtime, ReportingQueries(runtime.db)), runtime


def run_api() -> None:
    app, runtime = api()
    serve(app, runtime)


def run_consumer_process() -> None:
    runtime = build_runtime(SERVICE, "consumer", ReportingSettings())
    projections.install(runtime.db)
    run_consumer(runtime, name=CONSUMER, topics=TOPICS, policies=POLICIES, sink=ProjectionSink(runtime.db, CONSUMER))


ROLES = {"api": run_api, "consumer": run_consumer_process}
