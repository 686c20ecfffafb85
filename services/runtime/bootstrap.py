"""Building blocks each service's bootstrap composes: settings, logger, metrics, clock, database,
event store, relay and consumer loop. Nothing here runs at import time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar

import psycopg
import sqlalchemy
import uvicorn
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import FastAPI
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, stop_never, wait_exponential

from services.runtime import migrations
from services.runtime import tracing
from services.runtime.access import RoleMatrix
from services.runtime.clock import Clock, clock_from_settings
from services.runtime.consumer import ConsumerLoop, Policy, Sink
from services.runtime.consumer_dlq import Replay
from services.runtime.db import Database
from services.runtime.eventstore import ServiceApplication, build_application, create_stores
from services.runtime.logging import configure_logging, error_text
from services.runtime.metrics import DependencyWatch, Metrics
from services.runtime.oidc import TokenVerifier, token_verifier
from services.runtime.process import StopFlag, settle_heap
from services.runtime.relay import Relay, ToContract
from services.runtime.scheduling import AdvisoryClaim, advisory_claim
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
    watch: DependencyWatch | None = None  # workers: baoxue_dependency_up refreshed in the background

    def close(self) -> None:
        if self.watch is not None:
            self.watch.stop()
        self.db.close()


T = TypeVar("T")
# What PostgreSQL answers while it is not there yet or full: refused, "too many clients", "starting up", a pool timeout
UNAVAILABLE = (psycopg.OperationalError, StoreOperationalError, StoreInterfaceError, sqlalchemy.exc.OperationalError)


REASONS = (("too many", "too_many_clients"), ("refused", "connection_refused"), ("starting up", "starting_up"),
           ("shutting down", "shutting_down"), ("timeout", "timeout"), ("timed out", "timeout"),
           ("could not translate host", "unknown_host"), ("does not exist", "database_missing"))


def unavailable_reason(exc: BaseException) -> str:
    """Why PostgreSQL refused, as a word (a connection error's text names host, port and user: not logged)."""
    text = str(exc).lower()
    return next((reason for needle, reason in REASONS if needle in text), type(exc).__name__)


def until_database(step: Callable[[], T], settings: ServiceSettings, logger: Any, what: str = "connect") -> T:
    """Runs a start-up step until PostgreSQL lets it, with backoff (0.2 s doubling to 5 s), so a process started
    before the database, or while it is at its connection limit, waits instead of exiting; ``BAOXUE_DB_WAIT_S``
    bounds the wait (0: for ever). Logs ``waiting_for_database`` with the attempt, a reason word and the error as
    ``error_text`` shows it (no secrets)."""

    def log(state: Any) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.warning("waiting_for_database", attempt=state.attempt_number, step=what,
                       reason=unavailable_reason(exc) if exc else None, error=error_text(exc, 200) if exc else None)

    for attempt in Retrying(
        stop=stop_after_delay(settings.db_wait_s) if settings.db_wait_s else stop_never,
        wait=wait_exponential(multiplier=0.2, max=5), retry=retry_if_exception_type(UNAVAILABLE),
        before_sleep=log, reraise=True,
    ):
        with attempt:
            return step()
    raise AssertionError("unreachable")  # pragma: no cover - Retrying either returns or raises


def wait_for_database(settings: ServiceSettings, logger: Any) -> None:
    """Waits for PostgreSQL at boot, so processes may start before the database does."""
    until_database(lambda: psycopg.connect(settings.database_url, connect_timeout=3).close(), settings, logger)


def ensure_schema_version(service: str, settings: ServiceSettings, logger: Any) -> None:
    """Outside production a process migrates its service's schema itself (``make up``, tests); in production it
    waits for the migrate Job (``schema_behind`` logged) and is not ready meanwhile. A service without a
    migration history (a test's made-up service) has nothing to check."""
    if not migrations.location(service).is_dir():
        return
    if settings.env == "production":
        until_database(lambda: migrations.wait_until_current(settings.database_url, service, logger, settings.db_wait_s),
                       settings, logger, "schema_version")
    else:
        until_database(lambda: migrations.upgrade(settings.database_url, service), settings, logger, "migrate")


def run_migrate(service: str, settings: ServiceSettings, stores: Iterable[type[ServiceApplication]] = ()) -> None:
    """The migrate process (``baoxue run <service> migrate``, the k8s migrate Job): brings the schema to the code's
    head, creates the event ``stores`` (the service's application classes) the library has not built yet, and
    exits; 1 when an old-DDL database does not match the baseline (nothing written)."""
    logger = configure_logging(service, "migrate", settings.log_level)
    wait_for_database(settings, logger)
    try:
        outcome = until_database(lambda: migrations.upgrade(settings.database_url, service), settings, logger,
                                 "migrate")
    except migrations.SchemaMismatch as exc:
        logger.error("schema_mismatch", schema=service, error=str(exc))
        raise SystemExit(1) from None
    logger.info("schema_migrated", schema=outcome.schema, before=outcome.before, after=outcome.after,
                adopted=outcome.adopted)
    created = until_database(lambda: create_stores(settings, service, stores), settings, logger, "event_stores")
    logger.info("event_stores_ready", schema=service, stores=[s.name for s in stores], created=created)


# What each worker's baoxue_dependency_up watches (APIs answer for the database on /readyz; schedulers use no broker)
WATCHED = {"relay": ("database", "broker"), "consumer": ("database", "broker"), "scheduler": ("database",)}
DEPENDENCY_CHECK_S = 15.0


def dependency_checks(runtime: Runtime, names: tuple[str, ...]) -> dict[str, Callable[[], bool]]:
    known = {"database": runtime.db.ping, "broker": broker_reachable(runtime.settings.kafka_bootstrap)}
    return {name: known[name] for name in names}


def build_runtime(service: str, role: str, settings: ServiceSettings, clock: Clock | None = None) -> Runtime:
    """Settings in, wired runtime out (logger, metrics, clock, tokens, database on the service schema at the
    version its code needs); a relay, consumer or scheduler also starts its dependency watch (every 15 s)."""
    logger = configure_logging(service, role, settings.log_level)
    tracing.configure(service, role)  # OTEL_TRACES_EXPORTER unset: the no-op API (services/runtime/README.md)
    wait_for_database(settings, logger)
    ensure_schema_version(service, settings, logger)
    metrics = Metrics(service)
    ServiceApplication.metrics = metrics  # one runtime per process: its event store counts appends here
    runtime = Runtime(
        service=service,
        role=role,
        settings=settings,
        logger=logger,
        metrics=metrics,
        clock=clock or clock_from_settings(settings.clock_file, settings.timezone),
        tokens=token_verifier(settings),
        db=until_database(lambda: Database(settings.database_url, service, size=settings.db_pool_size),
                          settings, logger, "schema"),
    )
    if role in WATCHED:
        runtime.watch = DependencyWatch(metrics, role, dependency_checks(runtime, WATCHED[role]),
                                        DEPENDENCY_CHECK_S).start()
    return runtime


def event_store(runtime: Runtime, app_cls: type[ServiceApplication], schema: str | None = None) -> Any:
    """The service's event store (``build_application``), waiting for PostgreSQL like every start-up step."""
    return until_database(lambda: build_application(app_cls, runtime.settings, schema or runtime.service),
                          runtime.settings, runtime.logger, "event_store")


def base_app(runtime: Runtime, *, title: str, description: str, errors: dict[type[Exception], int] | None = None,
             roles: RoleMatrix | None = None) -> FastAPI:
    """The service's FastAPI app with platform middleware, readiness on the database (an API never produces to
    Kafka: the relays do, so a broker outage must not take the APIs out of their Service), and its role matrix."""
    return create_base_app(
        service=runtime.service,
        title=title,
        description=description,
        metrics=runtime.metrics,
        logger=runtime.logger,
        token_codec=runtime.tokens,
        clock=runtime.clock,
        readiness=dependency_checks(runtime, ("database",)),
        error_statuses=errors,
        role_matrix=roles,
    )


def serve(app: FastAPI, runtime: Runtime) -> None:
    """Serves an API with uvicorn on the service's port (one process)."""
    port = runtime.settings.http_port(runtime.service)
    runtime.logger.info("api_listening", url=f"http://{runtime.settings.host}:{port}", docs=f"http://{runtime.settings.host}:{port}/docs")
    uvicorn.run(app, host=runtime.settings.host, port=port, log_level="warning", access_log=False)


# uvicorn's supervisor pings each worker and kills one that does not answer within this (its default, 5 s): a
# spawned worker answers only once it has imported the service, which took longer than 5 s on a 2-core machine at
# load 40, so every worker was killed while importing and started again, for ever (the API never got ready)
WORKER_HEALTHCHECK_S = 60


def run_api(service: str, settings: ServiceSettings, build: Callable[[], tuple[FastAPI, Runtime]], factory: str) -> None:
    """Serves a service's API: in this process when ``BAOXUE_API_WORKERS`` is 1, else as that many uvicorn worker
    processes on the one port, each importing ``factory`` ("module:function" returning the app) and so building
    its own runtime and pools (nothing is shared in memory: see services/runtime/README.md, *Replicas*)."""
    if settings.api_workers == 1:
        app, runtime = build()
        serve(app, runtime)
        return
    logger = configure_logging(service, "api", settings.log_level)
    port = settings.http_port(service)
    logger.info("api_listening", url=f"http://{settings.host}:{port}", workers=settings.api_workers)
    uvicorn.run(factory, factory=True, workers=settings.api_workers, host=settings.host, port=port,
                log_level="warning", access_log=False, timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)


def scheduler_claim(runtime: Runtime, name: str | None = None) -> AdvisoryClaim | None:
    """The claim a service's scheduler passes to ``run_loop(claim=...)`` (None with ``BAOXUE_SCHEDULER_CLAIM=false``):
    one replica ticks, the others stand by."""
    if not runtime.settings.scheduler_claim:
        return None
    return advisory_claim(runtime.settings.database_url, name or runtime.service, runtime.logger)


def run_relay(runtime: Runtime, app: Any, topic: str, to_contract: ToContract, store: str | None = None) -> None:
    """Runs the service's relay in the foreground until SIGTERM (replicas share the topic's partitions). ``store``
    names a second event store of the service with a topic of its own: its relay has its own lock and the
    /metrics port of its process role (``runtime.role``)."""
    settings = runtime.settings
    runtime.metrics.serve(settings.worker_metrics_port(runtime.service, "relay" if store is None else runtime.role),
                          settings.host)
    relay = until_database(lambda: Relay(
        service=runtime.service,
        app=app,
        db=runtime.db,
        topic=topic,
        to_contract=to_contract,
        bootstrap=settings.kafka_bootstrap,
        partitions=settings.kafka_partitions,
        metrics=runtime.metrics,
        logger=runtime.logger,
        batch_size=settings.relay_batch_size,
        safety_poll_s=settings.relay_safety_poll_s,
        standby_poll_s=settings.relay_standby_poll_s,
        lease_s=settings.relay_lease_s,
        replication_factor=settings.kafka_replication_factor,
        producer_config={"linger.ms": settings.relay_linger_ms, "compression.type": settings.relay_compression},
        store=store,
    ), settings, runtime.logger, "relay")
    # what start-up built (modules, classes, pools) is kept out of the collector's passes: a batch's thousands of
    # short-lived objects set them off, and each pass walked every object of the process (~15% of the relay's CPU)
    settle_heap()
    relay.run(StopFlag().install())


@dataclass
class ConsumerSpec:
    """One consumer of a service as its bootstrap wires it (``CONSUMERS`` in a service's bootstrap): what the
    consumer process runs and what ``baoxue deadletters replay`` applies a dead letter through."""

    runtime: Runtime
    name: str
    topics: list[str]
    policies: dict[type, Policy]
    sink: Sink

    def run(self) -> None:
        run_consumer(self.runtime, name=self.name, topics=self.topics, policies=self.policies, sink=self.sink)

    def replay(self) -> Replay:
        """Replays this consumer's dead letters through its own policies and sink (consumer_dlq.Replay)."""
        return Replay(db=self.runtime.db, consumer=self.name, policies=self.policies, sink=self.sink,
                      log=self.runtime.logger)


def run_consumer(runtime: Runtime, *, name: str, topics: list[str], policies: dict[type, Policy], sink: Sink) -> None:
    """Runs one consumer loop in the foreground until SIGTERM."""
    runtime.metrics.serve(runtime.settings.worker_metrics_port(runtime.service, "consumer"), runtime.settings.host)
    loop = until_database(lambda: ConsumerLoop(
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
        lease_s=runtime.settings.consumer_lease_s,
        heartbeat_s=runtime.settings.consumer_heartbeat_s,
        replication_factor=runtime.settings.kafka_replication_factor,
    ), runtime.settings, runtime.logger, "consumer")
    settle_heap()
    loop.run(StopFlag().install())
