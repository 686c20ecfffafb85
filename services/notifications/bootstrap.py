"""Notifications bootstrap: builds settings, runtime, application and channels, then the API, relay, consumer or
the delivery worker (scheduler)."""

from __future__ import annotations

import os
import socket
from functools import partial
from typing import Any

from prometheus_client import Counter

from contracts import topics
from services.notifications.adapters.channels import FileChannel, FileDeliveryChannel, HttpWebhookChannel, LogChannel
from services.notifications.adapters.channels_email import SmtpConfig, SmtpEmailChannel
from services.notifications.adapters.channels_robots import DingTalkRobotChannel, WeComRobotChannel
from services.notifications.adapters.channels_sms import SmsConfig, TencentSmsChannel
from services.notifications.adapters.outbox import PostgresOutbox, PostgresPreferences
from services.notifications.adapters.projections import PostgresRecords
from services.notifications.adapters.publishing import to_contract
from services.notifications.application import NotificationsApp
from services.notifications.application.delivery import (
    DeliveryRules,
    DeliveryWorker,
    OutboxChannel,
    PreferenceService,
    Receipts,
)
from services.notifications.application.dispatch import Dispatcher
from services.notifications.application.policies import NotificationPolicies
from services.notifications.application.ports import Channel, DeliveryChannel
from services.notifications.application.recipients import DirectoryService
from services.notifications.entrypoints.api import create_app
from services.notifications.domain.delivery import QuietHours
from services.notifications.entrypoints.api.delivery import DeliveryApi
from services.notifications.entrypoints.consumers import TOPICS, policies
from services.notifications.entrypoints.scheduler import run_delivery
from services.notifications.settings import NotificationsSettings
from services.runtime.bootstrap import ConsumerSpec, Runtime, build_runtime, event_store, run_relay
from services.runtime.bootstrap import run_api as run_api_workers
from services.runtime.bootstrap import run_migrate
from services.runtime.consumer import EventSink
from services.runtime.process import StopFlag
from services.runtime.scheduling import stoppable_sleep

SERVICE = "notifications"
CONSUMER = "notifications"


def build_channel(settings: NotificationsSettings, runtime: Runtime) -> Channel:
    """The configured channel adapter."""
    if settings.channel == "log":
        return LogChannel(runtime.logger)
    if settings.channel == "outbox":
        return OutboxChannel(PostgresOutbox(runtime.db), PostgresPreferences(runtime.db), delivery_rules(settings),
                             runtime.clock.now, runtime.logger)
    if settings.channel == "webhook":
        assert settings.webhook_url is not None
        return HttpWebhookChannel(settings.webhook_url, token=settings.webhook_token,
                                  attempts=settings.webhook_attempts, timeout_s=settings.webhook_timeout_s)
    return FileChannel(settings.data_dir, runtime.clock.now)


def delivery_rules(settings: NotificationsSettings) -> DeliveryRules:
    """The outbox's configuration (quiet hours, urgent kinds, retries) from the settings."""
    return DeliveryRules(
        default_channels=tuple(settings.delivery_channels),
        quiet_hours=QuietHours.parse(settings.quiet_hours) if settings.quiet_hours else None,
        county_quiet_hours={k: QuietHours.parse(v) for k, v in settings.county_quiet_hours.items()},
        urgent_templates=frozenset(settings.urgent_templates), max_attempts=settings.delivery_max_attempts,
        tries_per_claim=settings.delivery_tries_per_claim, backoff_initial_s=settings.delivery_backoff_s,
        backoff_max_s=settings.delivery_backoff_max_s, jitter_s=settings.delivery_jitter_s,
        lease_s=settings.delivery_lease_s,
    )


def provider_channels(settings: NotificationsSettings, runtime: Runtime) -> list[DeliveryChannel]:
    """Every provider channel the settings configure (a channel without its settings is off; file is always on)."""
    found: list[DeliveryChannel] = [FileDeliveryChannel(settings.data_dir, runtime.clock.now)]
    if settings.sms_secret_id:
        found.append(TencentSmsChannel(SmsConfig(
            settings.sms_secret_id, settings.sms_secret_key or "", settings.sms_sdk_app_id, settings.sms_sign_name,
            settings.sms_template_id, settings.sms_templates, settings.sms_endpoint, settings.sms_scheme,
            settings.sms_region)))
    if settings.wecom_webhook_url:
        found.append(WeComRobotChannel(settings.wecom_webhook_url))
    if settings.dingtalk_webhook_url:
        found.append(DingTalkRobotChannel(settings.dingtalk_webhook_url, settings.dingtalk_secret))
    if settings.smtp_host:
        found.append(SmtpEmailChannel(SmtpConfig(settings.smtp_host, settings.smtp_port, settings.smtp_sender,
                                                 settings.smtp_username, settings.smtp_password,
                                                 settings.smtp_starttls)))
    return found


def delivery_worker(settings: NotificationsSettings, runtime: Runtime, store: NotificationsApp,
                    channels: list[DeliveryChannel] | None = None, owner: str | None = None) -> DeliveryWorker:
    """The outbox's sender, one lease owner per process."""
    counter = Counter("baoxue_deliveries_total", "Delivery attempts by channel and outcome",
                      ["service", "channel", "outcome"], registry=runtime.metrics.registry)
    return DeliveryWorker(store, PostgresOutbox(runtime.db), PostgresPreferences(runtime.db),
                          provider_channels(settings, runtime) if channels is None else channels,
                          delivery_rules(settings), runtime.clock, owner or f"{socket.gethostname()}:{os.getpid()}",
                          runtime.logger,
                          count=lambda channel, outcome: counter.labels(SERVICE, channel, outcome).inc())


def delivery_api(settings: NotificationsSettings, runtime: Runtime, store: NotificationsApp) -> DeliveryApi:
    return DeliveryApi(PreferenceService(PostgresPreferences(runtime.db), runtime.clock),
                       Receipts(store, PostgresOutbox(runtime.db), runtime.clock), settings.sms_callback_token)


def build_store(settings: NotificationsSettings, runtime: Runtime) -> NotificationsApp:
    """The notifications event store, with its delivery records in the same schema."""
    app: NotificationsApp = event_store(runtime, partial(NotificationsApp, records=PostgresRecords(runtime.db)))  # type: ignore[arg-type]
    return app


def api(settings: NotificationsSettings | None = None) -> tuple[Any, Runtime]:
    settings = settings or NotificationsSettings()
    runtime = build_runtime(SERVICE, "api", settings)
    store = build_store(settings, runtime)
    directory = DirectoryService(Dispatcher(store, build_channel(settings, runtime), runtime.clock))
    return create_app(runtime, store, directory, delivery_api(settings, runtime, store)), runtime


def api_factory() -> Any:
    """One API worker's app (uvicorn ``factory=True``): each worker builds its own runtime and pools."""
    return api()[0]


def run_api() -> None:
    """Serves the API; ``BAOXUE_API_WORKERS`` > 1 runs that many uvicorn worker processes on the port."""
    settings = NotificationsSettings()
    run_api_workers(SERVICE, settings, lambda: api(settings), "services.notifications.bootstrap:api_factory")


def run_relay_process() -> None:
    settings = NotificationsSettings()
    runtime = build_runtime(SERVICE, "relay", settings)
    run_relay(runtime, build_store(settings, runtime), topics.NOTIFICATIONS, to_contract)


def consumer(role: str = "consumer") -> ConsumerSpec:
    """The notifications consumer as wired here (its process and ``baoxue deadletters replay`` use it)."""
    settings = NotificationsSettings()
    runtime = build_runtime(SERVICE, role, settings)
    app = build_store(settings, runtime)
    bound = NotificationPolicies(app, build_channel(settings, runtime), runtime.clock)
    return ConsumerSpec(runtime, name=CONSUMER, topics=TOPICS, policies=policies(bound), sink=EventSink(app))


def run_consumer_process() -> None:
    consumer().run()


def run_delivery_process() -> None:
    """Sends the outbox (BAOXUE_CHANNEL=outbox); with another channel it finds nothing to do."""
    settings = NotificationsSettings()
    runtime = build_runtime(SERVICE, "scheduler", settings)
    runtime.metrics.serve(settings.worker_metrics_port(SERVICE, "scheduler"), settings.host)
    stop = StopFlag().install()
    worker = delivery_worker(settings, runtime, build_store(settings, runtime))  # rows are claimed by lease: replicas share
    run_delivery(worker, runtime.logger, stop, stoppable_sleep(stop), settings.delivery_poll_s, metrics=runtime.metrics)


ROLES = {"api": run_api, "relay": run_relay_process, "consumer": run_consumer_process,
         "scheduler": run_delivery_process}
EVENT_STORES = (NotificationsApp,)  # created by the migrate Job
ROLES["migrate"] = lambda: run_migrate(SERVICE, NotificationsSettings(), EVENT_STORES)  # one-shot
CONSUMERS = {CONSUMER: consumer}  # consumer name -> its wiring (``baoxue deadletters``)
