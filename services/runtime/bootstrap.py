"""Building blocks each service's bootstrap composes: settings, logger, metrics, clock, database,
event store, relay and consumer loop. Nothing here runs at import time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
import uvicorn
from tenacity import Retrying, stop_after_delay, wait_exponential
from fastapi import FastAPI

from services.runtime.access import RoleMatrix
from services.runtime.clock import Clock, clock_from_settings
from services.runtime.consumer import ConsumerLoop, Policy, Sink
from services.runtime.db import Database
from services.runtime.eventstore import ServiceApplication
from services.runtime.logging import configure_logging
from services.runtime.metrics import Metrics
from services.runtime.oidc import TokenVerifier, token_verifier
from services.runtime.process import StopFlag
from services.runtime.relay import Relay, ToContract
from services.runtime.settings import ServiceSettings
from services.runtime.web import broker_reachable, create_base_app


@dataclass
class Runtime:
    """What one process of one service runs with."""

    service: str
    role: str
    settings: ServiceSettings
    logger: Any
    metrics: Metrics
    clock: Clock
    tokens: TokenVerifier
    db: Database

    def close(self) -> None:
        self.db.close()


def wait_for_database(settings: ServiceSettings, logger: Any, timeout_s: float = 60.0) -> None:
    """Waits for PostgreSQL at boot, so processes may start before the database does."""
    for attempt in Retrying(
        stop=stop_after_delay(timeout_s), wait=wait_exponential(multiplier=0.2, max=2), reraise=True
    ):
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                logger.info("waiting_for_database", attempt=attempt.retry_state.attempt_number)
            psycopg.connect(settings.database_url, connect_timeout=3).close()


def build_runtime(service: str, role: str, settings: ServiceSettings, clock: Clock | None = None) -> Runtime:
    """Settings in, wired runtime out (logger, metrics, clock, tokens, database on the service schema)."""
    logger = configure_logging(service, role, settings.log_level)
    wait_for_database(settings, logger)
    metrics = Metrics(service)
    ServiceApplication.metrics = metrics  # one runtime per process: its event store counts appends here
    return Runtime(
        service=service,
        role=role,
        settings=settings,
        logger=logger,
        metrics=metrics,
        clock=clock or clock_from_settings(settings.clock_file, settings.timezone),
        tokens=token_verifier(settings),
        db=Database(settings.database_url, service, size=settings.db_pool_size),
    )


def base_app(runtime: Runtime, *, title: str, description: str, errors: dict[type[Exception], int],
             roles: RoleMatrix | None = None) -> FastAPI:
    """The service's FastAPI app with platform middleware, readiness on database and broker, and its role matrix."""
    return create_base_app(
        service=runtime.service,
        title=title,
        description=description,
        metrics=runtime.metrics,
        logger=runtime.logger,
        token_codec=runtime.tokens,
        clock=runtime.clock,
        readiness={"database": runtime.db.ping, "broker": broker_reachable(runtime.settings.kafka_bootstrap)},
        error_statuses=errors,
        role_matrix=roles,
    )


def serve(app: FastAPI, runtime: Runtime) -> None:
    """Serves an API with uvicorn on the service's port."""
    port = runtime.settings.http_port(runtime.service)
    runtime.logger.info("api_listening", url=f"http://{runtime.settings.host}:{port}", docs=f"http://{runtime.settings.host}:{port}/docs")
    uvicorn.run(app, host=runtime.settings.host, port=port, log_level="warning", access_log=False)


def run_relay(runtime: Runtime, app: Any, topic: str, to_contract: ToContract) -> None:
    """Runs the service's relay in the foreground until SIGTERM."""
    runtime.metrics.serve(runtime.settings.worker_metrics_port(runtime.service, "relay"), runtime.settings.host)
    relay = Relay(
        service=runtime.service,
        app=app,
        db=runtime.db,
        topic=topic,
        to_contract=to_contract,
        bootstrap=runtime.settings.kafka_bootstrap,
        partitions=runtime.settings.kafka_partitions,
        metrics=runtime.metrics,
        logger=runtime.logger,
        batch_size=runtime.settings.relay_batch_size,
        safety_poll_s=runtime.settings.relay_safety_poll_s,
    )
    relay.run(StopFlag().install())


def run_consumer(runtime: Runtime, *, name: str, topics: list[str], policies: dict[type, Policy], sink: Sink) -> None:
    """Runs one consumer loop in the foreground until SIGTERM."""
    runtime.metrics.serve(runtime.settings.worker_metrics_port(runtime.service, "consumer"), runtime.settings.host)
    loop = ConsumerLoop(
        service=runtime.service,
        name=name,
        topics_=topics,
        policies=policies,
        sink=sink,
        db=runtime.db,
        bootstrap=runtime.settings.kafka_bootstrap,
        partitions=runtime.settings.kafka_partitions,
        metrics=runtime.metrics,
        logger=runtime.logger,
        batch_size=runtime.settings.consumer_batch_size,
    )
    loop.run(StopFlag().install())
