"""Consumers through broker losses: the local tansu restarted N times under K consumer replicas, each time empty and
with a new cluster id, then refilled topic by topic as the relays do. Counts the replicas that died (SIGSEGV:
exit -11) and checks every message's effect was applied exactly once. Printed, never asserted.

``python -m bench.broker_loss --restarts 10 --replicas 4 --topics 4`` (PostgreSQL as ``bench.runtime.bench_infra``;
the broker is always its own, since it is restarted). Each replica is ``services.runtime.tests.replicas`` (the real
``ConsumerLoop`` with a ``ProjectionSink`` writing one row per message, ``--work-ms`` of waiting per message, as a
policy's database round trips would) reading every topic; a replica that died is counted and started again.
Why: a client that lived through the broker losing its data sent fetches by the old topic ids to the new broker;
tansu answers them with a zero topic id and a CurrentLeader tag, and librdkafka's leader update then looks the
topic up by a NULL name (services/runtime/README.md, *Broker loss*)."""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import tempfile
import time
import uuid
from typing import Any

from confluent_kafka.admin import AdminClient

from bench.runtime import bench_infra, print_table
from services.runtime.consumer import LEASES_DDL
from services.runtime.db import Database
from services.runtime.infra import TansuBroker, free_port
from services.runtime.kafka import ensure_topics
from services.runtime.tests.replicas import EFFECTS_DDL, Stream, spawn

PARTITIONS = 24
LEASE_S = 2.0


class Replicas:
    """K replica processes; one that died is recorded (exit code) and replaced by a new member."""

    def __init__(self, url: str, schema: str, bootstrap: str, topics: list[str], k: int, work_ms: float,
                 logs: str) -> None:
        self.args = (url, schema, bootstrap, ",".join(topics))
        self.work_ms, self.logs = work_ms, logs
        self.deaths: list[tuple[str, int]] = []
        self.generation = 0
        self.procs: dict[str, Any] = {}
        for i in range(k):
            self._start(f"r{i}")

    def _start(self, slot: str) -> None:
        self.generation += 1
        member = f"{slot}.{self.generation}"
        log = open(os.path.join(self.logs, f"{member}.log"), "w")  # noqa: SIM115 - kept open with the process
        url, schema, bootstrap, topics = self.args
        self.procs[slot] = spawn(url, schema, bootstrap, topics, PARTITIONS, member, LEASE_S, self.work_ms, log=log)

    def check(self) -> None:
        for slot, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self.deaths.append((slot, proc.returncode))
                self._start(slot)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except Exception:  # noqa: BLE001
                proc.kill()


def _effects(db: Database) -> tuple[int, int]:
    with db.transaction() as conn:
        row = conn.execute("SELECT count(*) AS n, count(DISTINCT message_id) AS d FROM effects").fetchone()
    return row["n"], row["d"]


def _until_caught_up(db: Database, replicas: Replicas, total: int, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        replicas.check()
        if _effects(db)[1] >= total:
            return time.monotonic() - start
        time.sleep(0.2)
    return None


def bench_broker_loss(restarts: int = 10, k: int = 4, topics_n: int = 4, messages: int = 300,
                      work_ms: float = 2.0, stagger_s: float = 2.0) -> list[tuple[str, str]]:
    with bench_infra() as (url, _unused_broker):
        suffix = uuid.uuid4().hex[:8]
        db = Database(url, f"bench_loss_{suffix}")
        db.execute_script(EFFECTS_DDL + LEASES_DDL)
        topics = [f"bench.loss.{suffix}.{i}" for i in range(topics_n)]
        broker = TansuBroker(free_port())
        broker.start()
        logs = tempfile.mkdtemp(prefix="broker-loss-")
        replicas = None
        try:
            ensure_topics(AdminClient({"bootstrap.servers": broker.bootstrap}), topics, PARTITIONS)
            streams = {t: Stream(broker.bootstrap, t) for t in topics}
            for stream in streams.values():
                stream.produce(messages, PARTITIONS)
            replicas = Replicas(url, db.schema, broker.bootstrap, topics, k, work_ms, logs)
            total = lambda: sum(len(set(s.ids)) for s in streams.values())  # noqa: E731
            first = _until_caught_up(db, replicas, total(), timeout=300)
            catch_up: list[float] = []
            missed = 0
            for _ in range(restarts):
                for stream in streams.values():  # a producer left alive would auto-create its topic (1 partition)
                    stream.producer.flush(10)
                    stream.producer = None
                broker.stop()  # every topic lost
                broker.start()  # a new cluster id on the same address
                order = list(topics)
                random.shuffle(order)
                for topic in order:  # the relays come back one by one: some topics exist while others do not yet
                    replicas.check()
                    ensure_topics(AdminClient({"bootstrap.servers": broker.bootstrap}), [topic], PARTITIONS)
                    streams[topic].replay()  # the refill: every message again where it was, same sequences
                    streams[topic].produce(messages // 3, PARTITIONS)  # and new ones
                    time.sleep(random.random() * stagger_s)
                took = _until_caught_up(db, replicas, total(), timeout=120)
                if took is None:
                    missed += 1
                else:
                    catch_up.append(took)
            _until_caught_up(db, replicas, total(), timeout=120)
            replicas.check()
            n, distinct = _effects(db)
            expected = total()
        finally:
            if replicas is not None:
                replicas.stop()
            broker.stop()
        db.close()
    segv = sum(1 for _, rc in replicas.deaths if rc == -signal.SIGSEGV)
    return [
        (f"{k} replicas x {topics_n} topics x {PARTITIONS} partitions, {restarts} broker restarts",
         f"{replicas.generation} processes started"),
        ("replicas died of SIGSEGV (exit -11)", str(segv)),
        ("replicas died otherwise", str(len(replicas.deaths) - segv)),
        ("effects: messages / applied / applied twice", f"{expected} / {distinct} / {n - distinct}"),
        ("first catch-up", f"{first:.1f} s" if first is not None else "not within 300 s"),
        ("catch-up after a restart, median / max",
         f"{statistics.median(catch_up):.1f} / {max(catch_up):.1f} s" if catch_up else "-"),
        ("restarts not caught up within 120 s", str(missed)),
        ("replica logs", logs),
        ("machine", f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--topics", type=int, default=4)
    parser.add_argument("--messages", type=int, default=300, help="per topic at first (a third more per restart)")
    parser.add_argument("--work-ms", type=float, default=2.0, help="time each message waits (I/O) in its policy")
    parser.add_argument("--stagger-s", type=float, default=2.0, help="most time between two topics' refills")
    a = parser.parse_args()
    print_table("consumers through broker losses (tansu restarted empty, new cluster id)",
                bench_broker_loss(a.restarts, a.replicas, a.topics, a.messages, a.work_ms, a.stagger_s))


if __name__ == "__main__":
    main()
