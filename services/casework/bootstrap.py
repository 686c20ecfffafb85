"""Casework bootstrap: builds settings, runtime and application, then the API, relay or consumer."""

from __future__ import annotations

from typing import Any

from contracts import topics
from services.casework.api import create_app
from services.casework.application import CaseworkApp, to_contract
from services.casework.consumers import policies
from services.casework.projections import PostgresCaseIndex
from services.casework.settings import CaseworkSettings
from services.runtime.bootstrap import Runtime, build_runtime, run_consumer, run_relay, serve
from services.runtime.consumer import EventSink
from services.runtime.eventstore import build_application

SERVICE = "casework"


def build_casework(runtime: Runtime, settings: CaseworkSettings) -> CaseworkApp:
    """The application on PostgreSQL, with its case index in the same schema."""
    app: CaseworkApp = build_application(CaseworkApp, settings, SERVICE)
    app.index = PostgresCaseIndex(runtime.db, batch_size=settings.case_index_batch_size)
    return app


def api(settings: CaseworkSettings | None = None) -> tuple[Any, Runtime]:
    settings = settings or CaseworkSettings()
    runtime = build_runtime(SERVICE, "api", settings)
    app = create_app(runtime, build_casework(runtime, settings), page_size_max=settings.case_page_size_max)
    return app, runtime


def run_api() -> None:
    app, runtime = api()
    serve(app, runtime)


def run_relay_process() -> None:
    settings = CaseworkSettings()
    runtime = build_runtime(SERVICE, "relay", settings)
    run_relay(runtime, build_casework(runtime, settings), topics.CASEWORK, to_contract)


def run_consumer_process() -> None:
    settings = CaseworkSettings()
    runtime = build_runtime(SERVICE, "consumer", settings)
    app = build_casework(runtime, settings)
    run_consumer(runtime, name=SERVICE, topics=[topics.ATTENDANCE], policies=policies(app), sink=EventSink(app))


ROLES = {"api": run_api, "relay": run_relay_process, "consumer": run_consumer_process}
