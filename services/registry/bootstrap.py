"""Registry bootstrap: builds settings, runtime and application, then the API, relay or scheduler."""

from __future__ import annotations

from contracts import topics
from services.registry.api import create_app
from services.registry.application import RegistryApp, contract_mapper
from services.registry.projections import PostgresIndex
from services.registry.protection import protect
from services.registry.scheduler import ComparisonScheduler, PostgresLastRun
from services.registry.settings import RegistrySettings
from services.runtime.bootstrap import Runtime, build_runtime, run_relay, serve
from services.runtime.eventstore import build_application
from services.runtime.process import StopFlag

SERVICE = "registry"


def build_registry(runtime: Runtime, settings: RegistrySettings) -> RegistryApp:
    """The application on PostgreSQL, with its read model in the same schema."""
    app: RegistryApp = protect(build_application(RegistryApp, settings, SERVICE), settings, runtime.db)
    app.index = PostgresIndex(runtime.db, batch_size=settings.index_batch_size)
    return app


def api(settings: RegistrySettings | None = None):
    settings = settings or RegistrySettings()
    runtime = build_runtime(SERVICE, "api", settings)
    return create_app(runtime, build_registry(runtime, settings), settings.rules()), runtime


def run_api() -> None:
    app, runtime = api()
    serve(app, runtime)


def run_relay_process() -> None:
    settings = RegistrySettings()
    runtime = build_runtime(SERVICE, "relay", settings)
    app = protect(build_application(RegistryApp, settings, SERVICE), settings, runtime.db)
    run_relay(runtime, app, topics.REGISTRY, contract_mapper(app))


def run_scheduler_process() -> None:
    """The daily census / transfer / 小升初 comparisons, driven by the injectable clock."""
    settings = RegistrySettings()
    runtime = build_runtime(SERVICE, "scheduler", settings)
    runtime.metrics.serve(settings.worker_metrics_port(SERVICE, "scheduler"), settings.host)
    scheduler = ComparisonScheduler(build_registry(runtime, settings), runtime.clock, settings.rules(),
                                    prefix=settings.comparison_prefix, hour=settings.comparison_hour,
                                    last_run=PostgresLastRun(runtime.db))
    scheduler.run(StopFlag().install(), runtime.logger, settings.scheduler_interval_s)


ROLES = {"api": run_api, "relay": run_relay_process, "scheduler": run_scheduler_process}
