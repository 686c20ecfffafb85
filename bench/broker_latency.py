"""The local broker's share of a message's latency: produce → a waiting consumer, per ``fetch.wait.max.ms`` and
poll style, and the broker's idle CPU per ``fetch.wait.max.ms`` (services/runtime/README.md, *Latency*).

    .venv/bin/python -m bench.broker_latency [--linger-ms 20] [--samples 30]

Its own tansu on a free port; 24 partitions; figures printed, never asserted."""

from __future__ import annotations

import argparse
import random
import statistics
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from services.runtime.kafka import ensure_topics
from services.runtime.procs import free_port
from services.runtime.tansu import TansuBroker

CASES = ((200, "consume(2000, 0.2)"), (200, "poll"), (100, "poll"), (50, "poll"))


def _consumer(bootstrap: str, wait_ms: int, partitions: list[TopicPartition], group: str = "probe") -> Consumer:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "latest", "fetch.wait.max.ms": wait_ms})
    consumer.assign(partitions)
    settle = time.monotonic() + 1.5
    while time.monotonic() < settle:
        consumer.poll(0.1)
    return consumer


def latency(bootstrap: str, linger_ms: int, samples: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": linger_ms, "acks": "all",
                         "enable.idempotence": True})
    for wait_ms, style in CASES:
        consumer = _consumer(bootstrap, wait_ms, [TopicPartition("probe", p, -1) for p in range(24)])
        got = []
        for n in range(samples):
            time.sleep(random.uniform(0.05, 0.3))
            sent = time.perf_counter()
            producer.produce("probe", key=str(n).encode(), value=b"x" * 500)
            producer.poll(0)
            while True:
                messages = consumer.consume(2000, timeout=0.2) if style.startswith("consume") else [
                    m for m in [consumer.poll(0.5)] if m is not None]
                if any(m.error() is None for m in messages):
                    got.append((time.perf_counter() - sent) * 1000)
                    break
        consumer.close()
        got.sort()
        print(f"linger.ms {linger_ms}, fetch.wait.max.ms {wait_ms}, {style}: produce → consumed "
              f"p50 {statistics.median(got):.0f} ms, max {got[-1]:.0f} ms ({samples} messages)", flush=True)
    producer.flush(5)


def idle_cpu(bootstrap: str, broker_pid: int) -> None:
    import psutil

    broker = psutil.Process(broker_pid)
    for wait_ms in (200, 100, 50, 20):
        clients = [_consumer(bootstrap, wait_ms, [TopicPartition(t, p, -2) for t in ("probe", "probe2")
                                                  for p in range(24) if p % 3 == k], f"idle{k}") for k in range(3)]
        before, started = sum(broker.cpu_times()[:2]), time.monotonic()
        while time.monotonic() - started < 10:
            for client in clients:
                client.poll(0.2 / 3)
        share = (sum(broker.cpu_times()[:2]) - before) / (time.monotonic() - started) * 100
        print(f"fetch.wait.max.ms {wait_ms}: broker {share:.1f} % of a core, idle, 3 clients of 16 partitions",
              flush=True)
        for client in clients:
            client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--linger-ms", type=int, default=20)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    broker = TansuBroker(free_port())
    broker.start()
    try:
        ensure_topics(AdminClient({"bootstrap.servers": broker.bootstrap}), ["probe", "probe2"], 24)
        latency(broker.bootstrap, args.linger_ms, args.samples)
        assert broker._proc is not None  # noqa: SLF001 - the broker's pid, for its CPU
        idle_cpu(broker.bootstrap, broker._proc.pid)  # noqa: SLF001
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
