"""Notifications bootstrap: builds settings, runtime, application and channel, then the API, relay or consumer."""

from __future__ import annotations

from typing import Any


from contracts import topics
from services.notifications.api import create_app
from services.notifications.application import NotificationsApp, to_contract
from services.notifications.channels import Channel, FileChannel, LogChannel
from services.notifications.consumers import NotificationPolicies
from services.notifications.settings import NotificationsSettings
from services.runtime.bootstrap import Runtime, build_runtime, run_consumer, run_relay, serve
from services.runtime.consumer import EventSink
from services.runtime.eventstore import build_application

SERVICE = "notifications"
CONSUMER = "notifications"


def build_channel(settings: NotificationsSettings, runtime: Runtime) -> Channel:
    """The configured channel adapter."""
    if settings.channel == "log":
        return LogChannel(runtime.logger)
    return FileChannel(settings.data_dir, runtime.clock.now)


def build_store(settings: NotificationsSettings) -> NotificationsApp:
    """The notifications event store (the runtime serialises table creation across processes)."""
    return build_application(NotificationsApp, settings, SERVICE)


def api(settings: NotificationsSettings | None = None) -> tuple[Any, Runtime]:
    settings = settings or NotificationsSettings()
    runtime = build_runtime(SERVICE, "api", settings)
    return create_app(runtime, build_store(settings)), runtime


def run_api() -> None:
    app, runtime = api()
    serve(app, runtime)


def run_relay_process() -> None:
    settings = NotificationsSettings()
    runtime = build_runtime(SERVICE, "relay", settings)
    run_relay(runtime, build_store(settings), topics.NOTIFICATIONS, to_contract)


def run_consumer_process() -> None:
    settings = NotificationsSettings()
    runtime = build_runtime(SERVICE, "consumer", settings)
    app = build_store(settings)
    policies = NotificationPolicies(app, build_channel(settings, runtime), runtime.clock)
    run_consumer(
        runtime,
        name=CONSUMER,
        topics=[topics.REGISTRY, topics.CASEWORK],
        policies=policies.policies(),
        sink=EventSink(app),
    )


ROLES = {"api": run_api, "relay": run_relay_process, "consumer": run_consumer_process}
