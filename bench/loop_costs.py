"""Client CPU per message of the consumer loop itself on onboarding messages (``StudentEnrolledV1`` as the
registry relay publishes them: CloudEvents headers, the payload's JSON), without a broker or a database: real
``confluent_kafka.Message`` objects through ``ConsumerLoop._handle_all`` into a sink that keeps nothing, so the
figure is the loop's share of a message (headers, envelope and payload validation, routing, logging context), not a
service's.

``.venv/bin/python -m bench.loop_costs --messages 50000 [--profile]``; printed, never asserted.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import Message as KafkaMessage

from contracts import topics
from contracts.events import StudentEnrolledV1
from services.runtime.consumer_loop import ConsumerLoop
from services.runtime.kafka import message_headers, partition_for
from services.runtime.metrics import Metrics
from services.runtime import process

PARTITIONS = 24


class _NoDatabase:
    schema = "bench"

    def ensure_tables(self, ddl: str) -> None:
        pass


class _KeepNothing:
    """A batch sink that applies nothing: what remains is the loop's cost."""

    fence = None

    def last_applied(self, track: str) -> int:
        return 0

    def apply_batch(self, items: list[Any]) -> None:
        pass


class _NoBroker:
    """Nothing is sought on a bench without rewinds (the loop only asserts it has a client)."""

    def seek(self, partition: Any) -> None:  # pragma: no cover - no rewind on these messages
        raise AssertionError("no seek expected")


def messages(n: int) -> list[KafkaMessage]:
    """Onboarding enrolments over 24 partitions, each partition's sequence chain as the relay writes it."""
    prev: dict[int, int] = {}
    out = []
    for i in range(n):
        student = str(uuid.uuid4())
        partition = partition_for(student, PARTITIONS)
        payload = StudentEnrolledV1(student_id=student, school_id=f"school-{i % 300}", county_code="520102",
                                    township_code="520102001", grade=1 + i % 9, class_name=f"{1 + i % 9}({i % 6})班",
                                    name_masked="张*", id_number_masked="5201**********1234",
                                    head_teacher_id=f"ht-{i % 2000}", head_teacher_name="李老师")
        sequence = i + 1
        headers = message_headers(f"{student}:1", "/baoxue/registry", StudentEnrolledV1.ce_type(), student,
                                  datetime(2026, 9, 1, 0, 0, i % 60, tzinfo=UTC), 1, sequence, prev.get(partition, 0),
                                  "system:registry-import", "system", "520102001", str(uuid.uuid4()), None)
        prev[partition] = sequence
        out.append(KafkaMessage(topic=topics.REGISTRY, partition=partition, offset=i, key=student.encode(),
                                value=payload.model_dump_json().encode(), headers=headers))
    return out


def loop() -> ConsumerLoop:
    loop = ConsumerLoop(service="bench", name="bench-consumer", topics_=[topics.REGISTRY],
                        policies={StudentEnrolledV1: lambda message: ()}, sink=_KeepNothing(),  # type: ignore[arg-type]
                        db=_NoDatabase(), bootstrap="127.0.0.1:1", partitions=PARTITIONS,  # type: ignore[arg-type]
                        metrics=Metrics("bench"), logger=structlog.get_logger(), batch_size=2000)
    loop.assigned = {(topics.REGISTRY, p): 1 for p in range(PARTITIONS)}
    loop.positions = {(topics.REGISTRY, p): 0 for p in range(PARTITIONS)}
    loop._route_counts = {topics.REGISTRY: (PARTITIONS,)}
    loop.consumer = _NoBroker()  # type: ignore[assignment]
    return loop


def measure(n: int, poll: int = 2000, profile: bool = False) -> float:
    """µs of CPU a message through ``_handle_all`` (and the batch's hand-over to the sink)."""
    batch = messages(n)
    consumer = loop()
    process.settle_heap()  # as the consumer process does before its loop
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.process_time()
    for start in range(0, n, poll):
        outcomes: dict[tuple[str, str], int] = {}
        consumer._handle_all(batch[start:start + poll], outcomes, lambda: False)
        consumer.flush_pending()
        assert outcomes == {(topics.REGISTRY, "applied"): len(batch[start:start + poll])}, outcomes
    cpu = time.process_time() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return cpu / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    per = measure(args.messages, profile=args.profile)
    print(f"consumer loop: {args.messages:,} enrolments in polls of 2,000: {per:,.1f} µs client CPU a message "
          f"({1e6 / per:,.0f} per CPU-second)")


if __name__ == "__main__":
    main()
