"""Casework bootstrap: builds settings, runtime and application, then the API, relay, consumer or scheduler."""

from __future__ import annotations

from functools import partial
from typing import Any

from contracts import topics
from services.casework.adapters.projections_pg import PostgresCaseViews
from services.casework.adapters.publishing import facts_from, to_contract
from services.casework.application import CaseworkApp
from services.casework.entrypoints.api import create_app
from services.casework.entrypoints.consumers import TOPICS, policies
from services.casework.entrypoints.scheduler import run_scheduler
from services.casework.settings import CaseworkSettings
from services.runtime.bootstrap import ConsumerSpec, Runtime, build_runtime, event_store, run_relay, scheduler_claim
from services.runtime.bootstrap import run_api as run_api_workers
from services.runtime.bootstrap import run_migrate
from services.runtime.consumer import EventSink
from services.runtime.process import StopFlag
from services.runtime.scheduling import stoppable_sleep

SERVICE = "casework"


def build_casework(runtime: Runtime, settings: CaseworkSettings) -> CaseworkApp:
    """The application on PostgreSQL, with its read models in the same schema and its configured rules."""
    index = PostgresCaseViews(runtime.db, batch_size=settings.case_index_batch_size)
    app: CaseworkApp = event_store(runtime, partial(CaseworkApp, index=index, policy=settings.case_policy()))  # type: ignore[arg-type]
    return app


def api(settings: CaseworkSettings | None = None) -> tuple[Any, Runtime]:
    settings = settings or CaseworkSettings()
    runtime = build_runtime(SERVICE, "api", settings)
    app = create_app(runtime, build_casework(runtime, settings), page_size_max=settings.case_page_size_max,
                     photo_max_bytes=settings.photo_max_bytes)
    return app, runtime


def api_factory() -> Any:
    """One API worker's app (uvicorn ``factory=True``): each worker builds its own runtime and pools."""
    return api()[0]


def run_api() -> None:
    """Serves the API; ``BAOXUE_API_WORKERS`` > 1 runs that many uvicorn worker processes on the port."""
    settings = CaseworkSettings()
    run_api_workers(SERVICE, settings, lambda: api(settings), "services.casework.bootstrap:api_factory")


def run_relay_process() -> None:
    settings = CaseworkSettings()
    runtime = build_runtime(SERVICE, "relay", settings)
    app = build_casework(runtime, settings)
    run_relay(runtime, app, topics.CASEWORK, partial(to_contract, facts=facts_from(app)))


def consumer(role: str = "consumer") -> ConsumerSpec:
    """The casework consumer as wired here (its process and ``baoxue deadletters replay`` use it)."""
    settings = CaseworkSettings()
    runtime = build_runtime(SERVICE, role, settings)
    app = build_casework(runtime, settings)
    return ConsumerSpec(runtime, name=SERVICE, topics=TOPICS, policies=policies(app), sink=EventSink(app))


def run_consumer_process() -> None:
    consumer().run()


def run_scheduler_process() -> None:
    """Fires case deadlines (notice, correction order, legal documents, follow-up) by the configured clock."""
    settings = CaseworkSettings()
    runtime = build_runtime(SERVICE, "scheduler", settings)
    runtime.metrics.serve(settings.worker_metrics_port(SERVICE, "scheduler"), settings.host)
    stop = StopFlag().install()

    run_scheduler(build_casework(runtime, settings), runtime.clock, runtime.logger, stop, stoppable_sleep(stop),
                  settings.scheduler_interval_s, settings.scheduler_batch_size, claim=scheduler_claim(runtime),
                  metrics=runtime.metrics)


ROLES = {"api": run_api, "relay": run_relay_process, "consumer": run_consumer_process,
         "scheduler": run_scheduler_process}
EVENT_STORES = (CaseworkApp,)  # created by the migrate Job
ROLES["migrate"] = lambda: run_migrate(SERVICE, CaseworkSettings(), EVENT_STORES)  # one-shot
CONSUMERS = {SERVICE: consumer}  # consumer name -> its wiring (``baoxue deadletters``)
