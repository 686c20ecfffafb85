"""Registry bootstrap, the composition root: settings, the event store with its data keys, the read model and the
use cases, handed to the API, relay, scheduler or operator CLI."""

from __future__ import annotations

from functools import partial
from typing import Any

from contracts import topics
from services.registry.adapters.keys import PostgresDataKeys
from services.registry.adapters.last_run import PostgresLastRun
from services.registry.adapters.protection import key_provider, postgres_data_keys
from services.registry.adapters.publishing import contract_mapper
from services.registry.adapters.readmodel.postgres import PostgresIndex
from services.registry.application.registry import Registry
from services.registry.application.store import RegistryApp
from services.registry.domain import pseudonyms
from services.registry.entrypoints.api import create_app
from services.registry.entrypoints.cli import build_cli
from services.registry.entrypoints.scheduler import ComparisonScheduler
from services.registry.settings import RegistrySettings
from services.runtime.bootstrap import Runtime, build_runtime, run_relay, scheduler_claim
from services.runtime.bootstrap import run_api as run_api_workers
from services.runtime.bootstrap import run_migrate
from services.runtime.db import Database
from services.runtime.eventstore import build_application
from services.runtime.process import StopFlag
from services.runtime.scheduling import stoppable_sleep

SERVICE = "registry"


def build_store(settings: RegistrySettings, db: Any, schema: str = SERVICE) -> RegistryApp:
    """The event store on PostgreSQL, its data keys in the same schema (the pseudonym key set first)."""
    pseudonyms.configure(settings.pseudonym_key)
    return build_application(partial(RegistryApp, data_keys=postgres_data_keys(settings, db)),  # type: ignore[arg-type]
                             settings, schema)


def compose(settings: RegistrySettings, db: Any, schema: str = SERVICE) -> Registry:
    """The use cases over the store and the PostgreSQL read model of one schema."""
    return Registry(build_store(settings, db, schema), PostgresIndex(db, batch_size=settings.index_batch_size))


def build_registry(runtime: Runtime, settings: RegistrySettings) -> Registry:
    """The use cases of one process, on its runtime's database."""
    return compose(settings, runtime.db)


def open_registry(schema: str = SERVICE) -> tuple[Registry, RegistrySettings]:
    """The use cases for an operator command (no runtime: settings from the environment)."""
    settings = RegistrySettings()
    return compose(settings, Database(settings.database_url, schema), schema), settings


def open_data_keys() -> tuple[RegistrySettings, Any, PostgresDataKeys]:
    """Settings, KEK provider and data keys for key rotation."""
    settings = RegistrySettings()
    provider = key_provider(settings)
    return settings, provider, PostgresDataKeys(Database(settings.database_url, SERVICE, size=2), provider)


def api(settings: RegistrySettings | None = None):
    settings = settings or RegistrySettings()
    runtime = build_runtime(SERVICE, "api", settings)
    return create_app(runtime, build_registry(runtime, settings), settings.rules()), runtime


def api_factory() -> Any:
    """One API worker's app (uvicorn ``factory=True``): each worker builds its own runtime and pools."""
    return api()[0]


def run_api() -> None:
    """Serves the API; ``BAOXUE_API_WORKERS`` > 1 runs that many uvicorn worker processes on the port."""
    settings = RegistrySettings()
    run_api_workers(SERVICE, settings, lambda: api(settings), "services.registry.bootstrap:api_factory")


def run_relay_process() -> None:
    settings = RegistrySettings()
    runtime = build_runtime(SERVICE, "relay", settings)
    store = build_store(settings, runtime.db)
    run_relay(runtime, store, topics.REGISTRY, contract_mapper(store))


def run_scheduler_process() -> None:
    """The daily census / transfer / 小升初 comparisons, driven by the injectable clock."""
    settings = RegistrySettings()
    runtime = build_runtime(SERVICE, "scheduler", settings)
    runtime.metrics.serve(settings.worker_metrics_port(SERVICE, "scheduler"), settings.host)
    scheduler = ComparisonScheduler(build_registry(runtime, settings).comparisons, runtime.clock, settings.rules(),
                                    prefix=settings.comparison_prefix, hour=settings.comparison_hour,
                                    last_run=PostgresLastRun(runtime.db))
    stop = StopFlag().install()
    scheduler.run(stop, runtime.logger, settings.scheduler_interval_s, sleep=stoppable_sleep(stop),
                  claim=scheduler_claim(runtime),
                  metrics=runtime.metrics)


ROLES = {"api": run_api, "relay": run_relay_process, "scheduler": run_scheduler_process}
EVENT_STORES = (RegistryApp,)  # created by the migrate Job
ROLES["migrate"] = lambda: run_migrate(SERVICE, RegistrySettings(), EVENT_STORES)  # one-shot
CLI = build_cli(open_registry, open_data_keys)  # `baoxue registry ...` (mounted by devstack)
