"""Bare Kafka clients through broker losses: the SIGSEGV of a client that lives through the local tansu restarting
empty (new cluster id), without the consumer loop. K child processes each run one consumer assigned every partition
of T topics (manual assignment, a pause after each poll as a batch's transaction would take); the broker is
restarted N times and its topics re-created one by one. Counts the children that died, by exit code. Printed,
never asserted.

``python -m bench.broker_loss_clients --mode MODE --restarts 8 --children 4`` where MODE is how a child treats its
client (services/runtime/README.md, *Broker loss*):
- ``loop-before``: as the consumer loop did before: a new client when ``list_topics`` (every 2 s) shows another
  cluster id;
- ``keep``: the client is never replaced (librdkafka's defaults: it re-bootstraps);
- ``keep-no-rebootstrap``: never replaced, ``metadata.recovery.strategy=none`` and 1 s reconnect backoff: it comes
  back to the new broker with the old topic ids, which is what crashes;
- ``replaced``: as the loop does now: ``kafka.REPLACED_ON_LOSS`` and a new client after ``_ALL_BROKERS_DOWN``."""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench.runtime import print_table
from services.runtime.kafka import REPLACED_ON_LOSS, BrokerWatch

PARTITIONS = 24
MODES = {
    "loop-before": {},
    "keep": {},
    "keep-no-rebootstrap": {"metadata.recovery.strategy": "none", "reconnect.backoff.ms": 1000,
                            "reconnect.backoff.max.ms": 1000},
    "replaced": REPLACED_ON_LOSS,
}


def child(bootstrap: str, mode: str, topics: list[str]) -> None:
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    watch = BrokerWatch()

    def client() -> Consumer:
        watch.reset()
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{random.randrange(1 << 30)}",
                      "enable.auto.commit": False, "auto.offset.reset": "earliest", "fetch.wait.max.ms": 200,
                      "log_level": 7 if os.environ.get("CLIENT_DEBUG") else 3, "error_cb": watch.error_cb,
                      **({"debug": os.environ["CLIENT_DEBUG"]} if os.environ.get("CLIENT_DEBUG") else {}), **MODES[mode]})
        c.incremental_assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in topics for p in range(PARTITIONS)])
        return c

    consumer = client()
    cluster = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=10).cluster_id
    checked = time.monotonic()
    consumer.consume(500, 1.0)
    print("ready", flush=True)  # the parent restarts the broker only once every child runs (not while it starts)
    while not stopping:
        consumer.consume(500, 0.2)
        time.sleep(random.random() * 0.3)  # the batch's transaction (the GIL released, as in psycopg)
        if mode == "replaced" and watch.lost is not None:
            print("REPLACING", time.time(), flush=True)
            consumer.close()
            print("CLOSED", time.time(), flush=True)
            while True:  # the loop's start: the broker answers first
                try:
                    AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=2)
                    break
                except Exception:  # noqa: BLE001
                    time.sleep(0.2)
            consumer = client()
        elif mode == "loop-before" and time.monotonic() - checked > 2:
            checked = time.monotonic()
            try:
                now = consumer.list_topics(timeout=5).cluster_id
            except Exception:  # noqa: BLE001
                continue
            if now != cluster:
                cluster = now
                consumer.close()
                consumer = client()
    consumer.close()


def refill(bootstrap: str, topics: list[str], stagger_s: float, messages: int = 100) -> None:
    """The relays coming back one by one: each topic re-created and given messages, in a random order."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 0})
    order = list(topics)
    random.shuffle(order)
    for topic in order:
        for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
            try:
                future.result(10)
            except Exception as exc:  # noqa: BLE001 - a consumer's metadata request may not create it (no auto-create)
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
        for i in range(messages):
            producer.produce(topic, key=str(i).encode(), value=b"x" * 200)
        producer.poll(0)
        time.sleep(random.random() * stagger_s)
    producer.flush(10)


def bench_clients(mode: str, restarts: int, children: int, topics_n: int, stagger_s: float,
                  up_s: float) -> list[tuple[str, str]]:
    from services.runtime.infra import TansuBroker, free_port

    broker = TansuBroker(free_port())
    broker.start()
    topics = [f"bench.clients.{i}" for i in range(topics_n)]
    logs = tempfile.mkdtemp(prefix="broker-loss-clients-")
    refill(broker.bootstrap, topics, 0)
    procs = [subprocess.Popen([sys.executable, "-m", "bench.broker_loss_clients", "--child", broker.bootstrap, mode,
                               ",".join(topics)], stdout=open(os.path.join(logs, f"{i}.log"), "w"),  # noqa: SIM115
                              stderr=subprocess.STDOUT) for i in range(children)]
    died: dict[int, tuple[int, int]] = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(
                "ready" in open(os.path.join(logs, f"{i}.log")).read() for i in range(children)):
            time.sleep(0.5)
        time.sleep(2)
        for r in range(restarts):
            broker.stop()
            broker.start()
            refill(broker.bootstrap, topics, stagger_s)
            time.sleep(up_s)
            for i, p in enumerate(procs):
                if p.poll() is not None and i not in died:
                    died[i] = (p.returncode, r + 1)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        broker.stop()
    segv = sum(1 for rc, _ in died.values() if rc == -signal.SIGSEGV)
    return [
        (f"mode {mode}: {children} clients x {topics_n} topics x {PARTITIONS} partitions, {restarts} restarts",
         f"{children * restarts} client-restarts"),
        ("clients died of SIGSEGV (exit -11)", str(segv)),
        ("clients died otherwise", str(len(died) - segv)),
        ("deaths at restart #", ", ".join(str(r) for _, r in sorted(died.values(), key=lambda x: x[1])) or "-"),
        ("client logs", logs),
        ("machine", f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"),
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4].split(","))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=sorted(MODES), default="loop-before")
    parser.add_argument("--restarts", type=int, default=8)
    parser.add_argument("--children", type=int, default=4)
    parser.add_argument("--topics", type=int, default=5)
    parser.add_argument("--stagger-s", type=float, default=1.0, help="most time between two topics' re-creation")
    parser.add_argument("--up-s", type=float, default=4.0, help="time between the refill and the next restart")
    a = parser.parse_args()
    print_table("bare clients through broker losses (tansu restarted empty, new cluster id)",
                bench_clients(a.mode, a.restarts, a.children, a.topics, a.stagger_s, a.up_s))


if __name__ == "__main__":
    main()
