"""Benchmarks of the runtime itself: event store appends, relay publishing, consumer applying.

Figures are printed, never asserted. Infrastructure: BAOXUE_BENCH_DATABASE_URL (a server where a database may
be created) and BAOXUE_BENCH_KAFKA_BOOTSTRAP when set, else an embedded PostgreSQL and a local broker.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from typing import Any, Iterator

from eventsourcing.domain import Aggregate, event

from contracts.events import AbsenceRecordedV1, SchoolRegisteredV1
from services.runtime.consumer import ConsumerLoop, EventSink, ProjectionSink
from services.runtime.db import Database
from services.runtime.eventstore import ServiceApplication, build_application, loads
from services.runtime.logging import configure_logging
from services.runtime.metrics import Metrics
from services.runtime import tracing
from services.runtime.relay import Relay
from services.runtime.scratchdb import fresh_database
from services.runtime.settings import ServiceSettings


class Tally(Aggregate):
    """A throwaway aggregate whose events stand in for absences."""

    @event("Started")
    def __init__(self, township_code: str, meta: dict[str, Any]) -> None:
        self.township_code = township_code
        self.count = 0

    @event("Ticked")
    def tick(self, day: str, meta: dict[str, Any]) -> None:
        self.count += 1


class BenchApp(ServiceApplication):
    name = "Bench"


def _to_contract(domain_event: Any) -> AbsenceRecordedV1 | None:
    if isinstance(domain_event, Tally.Ticked):
        return AbsenceRecordedV1(
            student_id=str(domain_event.originator_id), school_id="bench", township_code="520102001",
            day=domain_event.day, consecutive_school_days=1,
        )
    return None


@contextmanager
def bench_infra() -> Iterator[tuple[str, str]]:
    """A database URL and a broker for one benchmark run, cleaned up afterwards."""
    from services.runtime.infra import EmbeddedPostgres, TansuBroker, free_port, scratch_dir

    with ExitStack() as stack:
        given_db = os.environ.get("BAOXUE_BENCH_DATABASE_URL")
        if given_db:
            url = stack.enter_context(fresh_database(given_db, "baoxue_bench"))
        else:
            pg = EmbeddedPostgres(stack.enter_context(scratch_dir()) / "pg", free_port())
            pg.start()
            stack.callback(pg.stop)
            url = pg.ensure_database("bench")
        bootstrap = os.environ.get("BAOXUE_BENCH_KAFKA_BOOTSTRAP")
        if not bootstrap:
            broker = TansuBroker(free_port())
            broker.start()
            stack.callback(broker.stop)
            bootstrap = broker.bootstrap
        yield url, bootstrap


def bench_runtime(events: int = 50_000, per_save: int = 500) -> list[tuple[str, str]]:
    """Appends, publishes and consumes `events` events; returns (measure, figure) rows."""
    rows: list[tuple[str, str]] = []
    log = configure_logging("bench", "bench", "WARNING")
    traced = tracing.configure("bench", "bench")  # OTEL_TRACES_EXPORTER set: the cost of tracing on
    with bench_infra() as (url, bootstrap), tracing.span("bench runtime"):
        settings = ServiceSettings(database_url=url, kafka_bootstrap=bootstrap, env="test", kafka_partitions=6)
        app = build_application(BenchApp, settings, "bench")
        # traced, every event carries the span's traceparent, so the relay starts a producer span per message
        meta = {"actor_id": "bench", "actor_role": "system", "jurisdiction": "520102", **tracing.current_traceparent()}
        tallies = [Tally(township_code="520102001", meta=meta) for _ in range(1000)]
        app.save(*tallies)
        started = time.perf_counter()
        for batch_start in range(0, events, per_save):
            batch = tallies[: min(per_save, len(tallies))]
            for i, t in enumerate(batch):
                t.tick(day="2026-11-16", meta=meta)
            app.save(*batch)
        append_s = time.perf_counter() - started
        rows.append((f"event store append ({per_save} events per transaction)", f"{events / append_s:,.0f} events/s"))
        one_by_one = 1000
        started = time.perf_counter()
        for t in tallies[:one_by_one]:
            t.tick(day="2026-11-17", meta=meta)
            app.save(t)
        rows.append(("event store append (1 event per transaction)", f"{one_by_one / (time.perf_counter() - started):,.0f} events/s"))
        total = app.recorder.max_notification_id()

        db = Database(url, "bench")
        metrics = Metrics("bench")
        topic = f"bench.{uuid.uuid4().hex[:6]}"
        relay = Relay(service="bench", app=app, db=db, topic=topic, to_contract=_to_contract, bootstrap=bootstrap,
                      partitions=6, metrics=metrics, logger=log, batch_size=settings.relay_batch_size)
        stop = threading.Event()
        cpu = {"s": 0.0}

        def run_relay() -> None:
            relay.run(stop.is_set)
            cpu["s"] = time.thread_time()  # the relay thread's own CPU (the producer's C threads not included)

        started = time.perf_counter()
        thread = threading.Thread(target=run_relay, daemon=True)
        thread.start()
        first = 0
        while (position := relay.load_state().position) < total:
            if not first and position:
                first, first_at = position, time.perf_counter()  # leadership and broker check done
            time.sleep(0.05)
        ended = time.perf_counter()
        relay_s = ended - started
        stop.set()
        thread.join(10)
        published = events + one_by_one
        rows.append(("relay: store → broker (acknowledged, position stored)", f"{published / relay_s:,.0f} events/s"))
        if first and total > first:
            steady = (total - first) / (ended - first_at)
            rows.append(("relay: the same after its first batch (steady state)", f"{steady:,.0f} events/s"))
        if cpu["s"]:
            rows.append(("relay: events per CPU-second of its thread", f"{published / cpu['s']:,.0f} events/s"))

        applied = {"n": 0}

        def count(message: Any, conn: Any) -> None:
            applied["n"] += 1

        consumer = ConsumerLoop(service="bench", name="bench-consumer", topics_=[topic], policies={AbsenceRecordedV1: count},
                                sink=ProjectionSink(db, "bench-consumer"), db=db, bootstrap=bootstrap, partitions=6,
                                metrics=metrics, logger=log, batch_size=1000)
        stop = threading.Event()
        started = time.perf_counter()
        thread = threading.Thread(target=consumer.run, args=(stop.is_set,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 600
        while applied["n"] < published and time.monotonic() < deadline:
            time.sleep(0.05)
        consume_s = time.perf_counter() - started
        stop.set()
        thread.join(10)
        rows.append(("consumer: broker → projection (batched transactions)", f"{applied['n'] / consume_s:,.0f} messages/s"))

        # the event-store sink (casework, notifications): each message loads or starts an aggregate and adds an event;
        # as with the registry's enrolments at setup, each is about a student the consumer has not seen yet (the
        # aggregate is looked up, missing, and started)
        sink_app = build_application(BenchApp, settings, "bench_sink")

        def tally_id_for(message: Any) -> uuid.UUID:
            return uuid.uuid5(uuid.NAMESPACE_URL, message.envelope.id)

        @loads(lambda message: [tally_id_for(message)])  # read for the whole batch in one query
        def tally_for(message: Any) -> list[Any]:
            tally_id = tally_id_for(message)
            try:
                tally = sink_app.repository.get(tally_id)
            except Exception:  # noqa: BLE001 - not there yet
                tally = SinkTally(tally_id=tally_id, meta=meta)
            tally.tick(day=str(message.payload.day), meta=meta)
            applied["n"] += 1
            return [tally]

        applied["n"] = 0
        sink = EventSink(sink_app)
        seconds = _consume(ConsumerLoop(
            service="bench", name="bench-events", topics_=[topic], policies={AbsenceRecordedV1: tally_for}, sink=sink,
            db=db, bootstrap=bootstrap, partitions=6, metrics=metrics, logger=log, batch_size=500,
        ), lambda: applied["n"] >= published)
        rows.append(("consumer: broker → event store (unit of work per batch)", f"{applied['n'] / seconds:,.0f} messages/s"))

        # messages no policy wants (most of attendance's topic, for casework and notifications)
        skipper = ConsumerLoop(
            service="bench", name="bench-skip", topics_=[topic], policies={SchoolRegisteredV1: tally_for}, sink=sink,
            db=db, bootstrap=bootstrap, partitions=6, metrics=metrics, logger=log, batch_size=1000,
        )
        seconds = _consume(skipper, lambda: _read_all(skipper, published))
        rows.append(("consumer: messages without a policy passed over", f"{published / seconds:,.0f} messages/s"))
        db.close()
    if traced:
        tracing.shutdown()
        rows.append(("tracing", os.environ.get("OTEL_TRACES_EXPORTER", "")))
    return rows


class SinkTally(Aggregate):
    """The event-store consumer's aggregate, one per student id."""

    @event("Started")
    def __init__(self, tally_id: uuid.UUID, meta: dict[str, Any]) -> None:
        self.count = 0

    @staticmethod
    def create_id(tally_id: uuid.UUID, meta: dict[str, Any]) -> uuid.UUID:
        return tally_id

    @event("Ticked")
    def tick(self, day: str, meta: dict[str, Any]) -> None:
        self.count += 1


def _read_all(loop: ConsumerLoop, published: int) -> bool:
    metric = loop.metrics.consumed.labels(loop.service, loop.name, loop.topics[0], "ignored")
    return metric._value.get() >= published  # noqa: SLF001 - prometheus_client keeps the value here


def _consume(loop: ConsumerLoop, done: Any, timeout: float = 600) -> float:
    """Runs a consumer on a thread until ``done()``; the seconds it took."""
    stop = threading.Event()
    started = time.perf_counter()
    thread = threading.Thread(target=loop.run, args=(stop.is_set,), daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    stop.set()
    thread.join(10)
    return seconds


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(r[0]) for r in rows) + 2
    print(f"\n{title}")
    print("-" * (width + 24))
    for measure, figure in rows:
        print(f"{measure:<{width}}{figure:>24}")


def bench_relay_latency(samples: int = 40, **relay_options: Any) -> list[tuple[str, str]]:
    """Seconds from an event's commit to the relay having it acknowledged by the broker and its position stored,
    one event at a time at random gaps (an otherwise quiet store); returns (measure, figure) rows."""
    import random

    log = configure_logging("bench", "bench", "WARNING")
    with bench_infra() as (url, bootstrap):
        settings = ServiceSettings(database_url=url, kafka_bootstrap=bootstrap, env="test")
        app = build_application(BenchApp, settings, "bench_latency")
        db = Database(url, "bench_latency")
        relay = Relay(service="bench", app=app, db=db, topic=f"bench.{uuid.uuid4().hex[:6]}", to_contract=_to_contract,
                      bootstrap=bootstrap, partitions=3, metrics=Metrics("bench"), logger=log, **relay_options)
        stored = threading.Condition()
        position = {"at": 0}
        save_state = relay.save_state

        def record(state: Any) -> None:
            save_state(state)
            with stored:
                position["at"] = state.position
                stored.notify_all()

        relay.save_state = record  # type: ignore[method-assign]
        meta = {"actor_id": "bench", "actor_role": "system", "jurisdiction": "520102"}
        tally = Tally(township_code="520102001", meta=meta)
        app.save(tally)
        stop = threading.Event()
        thread = threading.Thread(target=relay.run, args=(stop.is_set,), daemon=True)
        thread.start()
        rng = random.Random(7)
        latencies: list[float] = []
        try:
            time.sleep(3)  # the relay has taken the lead, checked the broker and published the first event
            for _ in range(samples):
                time.sleep(rng.uniform(0.2, 0.6))
                tally.tick(day="2026-11-16", meta=meta)
                notification_id = app.save(tally)[0].notification.id
                committed = time.perf_counter()
                with stored:
                    stored.wait_for(lambda: position["at"] >= notification_id, timeout=30)
                latencies.append(time.perf_counter() - committed)
        finally:
            stop.set()
            thread.join(10)
            db.close()
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return [
        ("events, one per transaction, 0.2–0.6 s apart", f"{samples}"),
        ("commit → published and position stored, p50", f"{ms[len(ms) // 2]:,.1f} ms"),
        ("commit → published and position stored, p90", f"{ms[int(len(ms) * 0.9)]:,.1f} ms"),
        ("commit → published and position stored, max", f"{ms[-1]:,.1f} ms"),
    ]
