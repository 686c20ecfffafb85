"""Attendance bootstrap (the composition root): builds settings, runtime, event store, read models and the use cases,
then hands them to the API, relay, consumer, scheduler or CLI."""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from typing import Iterator

from contracts import topics
from services.attendance.adapters.publishing import to_contract
from services.attendance.adapters.schema import migrate
from services.attendance.adapters.store import PgAttendanceStore
from services.attendance.application.app import AttendanceApp
from services.attendance.application.service import Attendance
from services.attendance.entrypoints.api.app import create_app, default_buckets
from services.attendance.entrypoints.cli import build_cli
from services.attendance.entrypoints.consumers import POLICIES, roster_sink
from services.attendance.entrypoints.scheduler import run_scheduler
from services.attendance.settings import AttendanceSettings
from services.runtime.bootstrap import ConsumerSpec, Runtime, build_runtime, event_store, run_relay, scheduler_claim
from services.runtime.bootstrap import run_api as run_api_workers
from services.runtime.bootstrap import run_migrate
from services.runtime.clock import Clock, SystemClock
from services.runtime.db import Database
from services.runtime.eventstore import build_application
from services.runtime.process import StopFlag
from services.runtime.scheduling import stoppable_sleep

SERVICE = "attendance"


def compose(db: Database, clock: Clock, settings: AttendanceSettings) -> Attendance:
    """The use cases on PostgreSQL: the read models migrated, the event store writing their rows with its events."""
    migrate(db)
    store = PgAttendanceStore(db, settings.roster_cache_students)
    event_store = build_application(partial(AttendanceApp, snapshot_every=settings.snapshot_every), settings, SERVICE)  # type: ignore[arg-type]
    return Attendance(event_store, store, clock, settings)


def application(runtime: Runtime, settings: AttendanceSettings) -> Attendance:
    """The attendance service of one process (its runtime's database and clock)."""
    return compose(runtime.db, runtime.clock, settings)


def api(settings: AttendanceSettings | None = None):
    settings = settings or AttendanceSettings()
    runtime = build_runtime(SERVICE, "api", settings)
    attendance = application(runtime, settings)
    return create_app(runtime, attendance, default_buckets(attendance)), runtime


def api_factory():
    """One API worker's app (uvicorn ``factory=True``): each worker builds its own runtime and pools."""
    return api()[0]


def run_api() -> None:
    """Serves the API; ``BAOXUE_API_WORKERS`` > 1 runs that many uvicorn worker processes on the port."""
    settings = AttendanceSettings()
    run_api_workers(SERVICE, settings, lambda: api(settings), "services.attendance.bootstrap:api_factory")


def run_relay_process() -> None:
    settings = AttendanceSettings()
    runtime = build_runtime(SERVICE, "relay", settings)
    run_relay(runtime, event_store(runtime, AttendanceApp), topics.ATTENDANCE, to_contract)


def consumer(role: str = "consumer") -> ConsumerSpec:
    """The roster consumer as wired here (its process and ``baoxue deadletters replay`` use it)."""
    settings = AttendanceSettings()
    runtime = build_runtime(SERVICE, role, settings)
    migrate(runtime.db)
    return ConsumerSpec(runtime, name="attendance", topics=[topics.REGISTRY], policies=dict(POLICIES),
                        sink=roster_sink(runtime.db))


def run_consumer_process() -> None:
    """Keeps the roster from registry's events."""
    consumer().run()


def run_scheduler_process() -> None:
    """Closes today's rolls after the cut-off."""
    settings = AttendanceSettings()
    runtime = build_runtime(SERVICE, "scheduler", settings)
    runtime.metrics.serve(settings.worker_metrics_port(SERVICE, "scheduler"), settings.host)
    stop = StopFlag().install()

    attendance = application(runtime, settings)
    run_scheduler(attendance.day_close, runtime.logger, stop, stoppable_sleep(stop), interval_s=settings.scheduler_interval_s,
                  default_cutoff=settings.day_close_cutoff, claim=scheduler_claim(runtime),
                  metrics=runtime.metrics)


@contextmanager
def open_cli_attendance() -> Iterator[Attendance]:
    """The service for one CLI command, on ``BAOXUE_DATABASE_URL`` with the system clock; closed after."""
    settings = AttendanceSettings()
    db = Database(settings.database_url, SERVICE, size=2)
    attendance = compose(db, SystemClock(), settings)
    try:
        yield attendance
    finally:
        attendance.event_store.close()
        db.close()


cli = build_cli(open_cli_attendance)


ROLES = {
    "api": run_api,
    "relay": run_relay_process,
    "consumer": run_consumer_process,
    "scheduler": run_scheduler_process,
}
EVENT_STORES = (AttendanceApp,)  # created by the migrate Job
ROLES["migrate"] = lambda: run_migrate(SERVICE, AttendanceSettings(), EVENT_STORES)  # one-shot
CONSUMERS = {"attendance": consumer}  # consumer name -> its wiring (``baoxue deadletters``)
