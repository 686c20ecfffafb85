"""Notifications bootstrap: builds settings, runtime, application and channel, then the API, relay or consumer."""

from __future__ import annotations

from functools import partial
from typing import Any

from contracts import topics
from services.notifications.adapters.channels import FileChannel, HttpWebhookChannel, LogChannel
from services.notifications.adapters.projections import PostgresRecords
from services.notifications.adapters.publishing import to_contract
from services.notifications.application import NotificationsApp
from services.notifications.application.dispatch import Dispatcher
from services.notifications.application.policies import NotificationPolicies
from services.notifications.application.ports import Channel
from services.notifications.application.recipients import DirectoryService
from services.notifications.entrypoints.api import create_app
from services.notifications.entrypoints.consumers import TOPICS, policies
from services.notifications.settings import NotificationsSettings
from services.runtime.bootstrap import (
    run_migrate,
    Runtime,
    build_runtime,
    run_consumer,
    run_relay,
    serve,
)
from services.runtime.consumer import EventSink
from services.runtime.eventstore import build_application

SERVICE = "notifications"
CONSUMER = "notifications"


def build_channel(settings: NotificationsSettings, runtime: Runtime) -> Channel:
    """The configured channel adapter."""
    if settings.channel == "log":
        return LogChannel(runtime.logger)
    if settings.channel == "webhook":
        assert settings.webhook_url is not None
        return HttpWebhookChannel(settings.webhook_url, token=settings.webhook_token,
                                  attempts=settings.webhook_attempts, timeout_s=settings.webhook_timeout_s)
    return FileChannel(settings.data_dir, runtime.clock.now)


def build_store(settings: NotificationsSettings, runtime: Runtime) -> NotificationsApp:
    """The notifications event store, with its delivery records in the same schema."""
    app: NotificationsApp = build_application(partial(NotificationsApp, records=PostgresRecords(runtime.db)),  # type: ignore[arg-type]
                                              settings, SERVICE)
    return app


def api(settings: NotificationsSettings | None = None) -> tuple[Any, Runtime]:
    settings = settings or NotificationsSettings()
    runtime = build_runtime(SERVICE, "api", settings)
    store = build_store(settings, runtime)
    directory = DirectoryService(Dispatcher(store, build_channel(settings, runtime), runtime.clock))
    return create_app(runtime, store, directory), runtime


def run_api() -> None:
    app, runtime = api()
    serve(app, runtime)


def run_relay_process() -> None:
    settings = NotificationsSettings()
    runtime = build_runtime(SERVICE, "relay", settings)
    run_relay(runtime, build_store(settings, runtime), topics.NOTIFICATIONS, to_contract)


def run_consumer_process() -> None:
    settings = NotificationsSettings()
    runtime = build_runtime(SERVICE, "consumer", settings)
    app = build_store(settings, runtime)
    bound = NotificationPolicies(app, build_channel(settings, runtime), runtime.clock)
    run_consumer(
        runtime,
        name=CONSUMER,
        topics=TOPICS,
        policies=policies(bound),
        sink=EventSink(app),
    )


ROLES = {"api": run_api, "relay": run_relay_process, "consumer": run_consumer_process}
ROLES["migrate"] = lambda: run_migrate(SERVICE, NotificationsSettings())  # one-shot: the schema to the code's head
