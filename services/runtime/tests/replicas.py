"""Replicas of one consumer as real processes (``python -m services.runtime.tests.replicas``), and the stream they
read: school registrations produced straight to a topic as a relay would (key, partition, sequence chain)."""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from contracts import Envelope
from contracts.events.registry import SchoolRegisteredV1
from services.runtime.consumer import ConsumerLoop, ProjectionSink
from services.runtime.db import Database
from services.runtime.kafka import encode, partition_for
from services.runtime.logging import configure_logging
from services.runtime.metrics import Metrics
from services.runtime.process import StopFlag

EFFECTS_DDL = "CREATE TABLE IF NOT EXISTS effects (message_id text NOT NULL, member text NOT NULL, " \
              "applied_at timestamptz NOT NULL DEFAULT clock_timestamp());"
ROOT = Path(__file__).resolve().parents[3]


class Stream:
    """Produces messages with a global sequence and each partition's previous sequence, as the relay does."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.bootstrap = bootstrap
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
        self.sequence = 0
        self.last: dict[int, int] = {}
        self.ids: list[str] = []
        self.sent: list[tuple[int, bytes, bytes, list]] = []  # what was produced, to produce again (a refill)

    def produce(self, n: int, partitions: int) -> None:
        for _ in range(n):
            subject = str(uuid.uuid4())
            self.send(subject, partition_for(subject, partitions))
            if self.sequence % 1000 == 0:
                self.producer.poll(0)
        assert self.producer.flush(30) == 0

    def send(self, subject: str, partition: int, extra: dict[str, bytes] | None = None) -> str:
        """One message about ``subject`` on ``partition`` (next sequence, the partition's previous one); its id."""
        self.sequence += 1
        envelope = Envelope(
            id=f"{subject}:{self.sequence}", source="/baoxue/registry", type=SchoolRegisteredV1.ce_type(),
            subject=subject, time=datetime.now(timezone.utc), aggregateversion=1, sequence=self.sequence,
            partitionprev=self.last.get(partition, 0), actorid="system:test", actorrole="system",
            jurisdiction="520102", correlationid=str(uuid.uuid4()))
        payload = SchoolRegisteredV1(school_id=subject, code="S1", name="一小", level="primary",
                                     county_code="520102", township_code="520102001")
        message = encode(envelope, payload)
        headers = list(message.headers.items()) + list((extra or {}).items())
        self.sent.append((partition, message.key, message.value, headers))
        self.producer.produce(self.topic, key=message.key, value=message.value, partition=partition, headers=headers)
        self.last[partition] = self.sequence
        self.ids.append(envelope.id)
        return envelope.id

    def replay(self) -> None:
        """Everything again, each message on the partition it was first produced to (as a refill does), by a new
        producer (the old one's metadata knows the topic as it was)."""
        self.producer = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all"})
        for partition, key, value, headers in self.sent:
            for attempt in range(100):  # a topic just created: its partitions known to the producer a moment later
                try:
                    self.producer.produce(self.topic, key=key, value=value, partition=partition, headers=headers)
                    break
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError._UNKNOWN_PARTITION or attempt == 99:
                        raise
                    self.producer.poll(0.1)
        assert self.producer.flush(30) == 0


def loop(database_url: str, schema: str, bootstrap: str, topic: str, partitions: int, member: str,
         lease_s: float, work_ms: float = 0.0) -> ConsumerLoop:
    """One replica: each message's effect is a row naming the message and the member that applied it (``topic`` may
    name several topics, comma-separated)."""
    db = Database(database_url, schema)
    db.execute_script(EFFECTS_DDL)

    def record(message, conn) -> None:
        if work_ms:
            time.sleep(work_ms / 1000)
        conn.execute("INSERT INTO effects (message_id, member) VALUES (%s, %s)", (message.envelope.id, member))

    return ConsumerLoop(service="test", name="replicated", topics_=topic.split(","), policies={SchoolRegisteredV1: record},
                        sink=ProjectionSink(db, "replicated"), db=db, bootstrap=bootstrap, partitions=partitions,
                        metrics=Metrics("test"), logger=configure_logging("test", "consumer"), lease_s=lease_s,
                        heartbeat_s=lease_s / 4, member=member)


def spawn(database_url: str, schema: str, bootstrap: str, topic: str, partitions: int, member: str,
          lease_s: float, work_ms: float = 0.0, log: Any = None) -> subprocess.Popen:
    """A replica in its own process (its log lines to ``log``, else discarded)."""
    argv = [sys.executable, "-m", "services.runtime.tests.replicas", database_url, schema, bootstrap, topic,
            str(partitions), member, str(lease_s), str(work_ms)]
    return subprocess.Popen(argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
                            stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("database_url", "schema", "bootstrap", "topic"):
        parser.add_argument(name)
    parser.add_argument("partitions", type=int)
    parser.add_argument("member")
    parser.add_argument("lease_s", type=float)
    parser.add_argument("work_ms", type=float)
    a = parser.parse_args()
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # where a replica is, when a test wants to know
    loop(a.database_url, a.schema, a.bootstrap, a.topic, a.partitions, a.member, a.lease_s, a.work_ms).run(
        StopFlag().install())


if __name__ == "__main__":
    main()
