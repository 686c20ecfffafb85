"""Attendance bootstrap: builds settings, runtime and application, then the API, relay, consumer or scheduler."""

from __future__ import annotations

import time

from contracts import topics
from services.attendance.api import create_app
from services.attendance.application import AttendanceApp, to_contract
from services.attendance.consumers import POLICIES, roster_sink
from services.attendance.projections import PgAttendanceStore, migrate
from services.attendance.scheduler import run_scheduler
from services.attendance.settings import AttendanceSettings
from services.runtime.bootstrap import Runtime, build_runtime, run_consumer, run_relay, serve
from services.runtime.eventstore import build_application
from services.runtime.process import StopFlag

SERVICE = "attendance"


def application(runtime: Runtime, settings: AttendanceSettings) -> AttendanceApp:
    """The event-sourced application attached to its read models, clock and rules."""
    migrate(runtime.db)
    app = build_application(AttendanceApp, settings, SERVICE)
    return app.attach(PgAttendanceStore(runtime.db, settings.roster_cache_students), runtime.clock, settings)


def api(settings: AttendanceSettings | None = None):
    settings = settings or AttendanceSettings()
    runtime = build_runtime(SERVICE, "api", settings)
    return create_app(runtime, application(runtime, settings)), runtime


def api_factory():
    """One API worker's app (uvicorn ``factory=True``): each worker builds its own runtime and pools."""
    return api()[0]


def run_api() -> None:
    """Serves the API; ``BAOXUE_API_WORKERS`` > 1 runs that many uvicorn worker processes on the port."""
    settings = AttendanceSettings()
    if settings.api_workers == 1:
        app, runtime = api(settings)
        serve(app, runtime)
        return
    import uvicorn

    port = settings.http_port(SERVICE)
    uvicorn.run(
        "services.attendance.bootstrap:api_factory",
        factory=True,
        workers=settings.api_workers,
        host=settings.host,
        port=port,
        log_level="warning",
        access_log=False,
    )


def run_relay_process() -> None:
    settings = AttendanceSettings()
    runtime = build_runtime(SERVICE, "relay", settings)
    run_relay(runtime, build_application(AttendanceApp, settings, SERVICE), topics.ATTENDANCE, to_contract)


def run_consumer_process() -> None:
    """Keeps the roster from registry's events."""
    settings = AttendanceSettings()
    runtime = build_runtime(SERVICE, "consumer", settings)
    migrate(runtime.db)
    run_consumer(
        runtime,
        name="attendance",
        topics=[topics.REGISTRY],
        policies=dict(POLICIES),
        sink=roster_sink(runtime.db),
    )


def run_scheduler_process() -> None:
    """Closes today's rolls after the cut-off."""
    settings = AttendanceSettings()
    runtime = build_runtime(SERVICE, "scheduler", settings)
    runtime.metrics.serve(settings.worker_metrics_port(SERVICE, "scheduler"), settings.host)
    stop = StopFlag().install()

    def sleep(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not stop() and time.monotonic() < deadline:
            time.sleep(min(0.5, seconds))

    run_scheduler(application(runtime, settings), runtime.logger, stop, sleep)


ROLES = {
    "api": run_api,
    "relay": run_relay_process,
    "consumer": run_consumer_process,
    "scheduler": run_scheduler_process,
}
