"""Dead letters on real PostgreSQL and a Kafka-protocol broker: a poison message is recorded once, in the fenced
transaction that moves its partition's position past it, however its lease moves."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from contracts import topics
from contracts.events.registry import SchoolRegisteredV1
from services.runtime.consumer import LEASES_DDL, ConsumerLoop, ProjectionSink
from services.runtime.db import Database
from services.runtime.kafka import ensure_topics
from services.runtime.logging import configure_logging
from services.runtime.metrics import Metrics
from services.runtime.tests.replicas import EFFECTS_DDL, Stream

pytestmark = pytest.mark.integration
POISON = "poison-" + uuid.uuid4().hex[:8]


@pytest.fixture
def world(database_url, kafka_bootstrap):
    suffix = uuid.uuid4().hex[:8]
    db = Database(database_url, f"dlq_{suffix}")
    db.execute_script(EFFECTS_DDL + LEASES_DDL)
    topic = f"test.dlq.{suffix}"
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), [topic], 1)
    yield db, topic, f"dlq-{suffix}"
    db.close()


def member(db: Database, bootstrap: str, topic: str, name: str, who: str, metrics: Metrics | None = None) -> ConsumerLoop:
    """A replica whose policy records each message and fails on the poison school's."""

    def record(message, conn) -> None:
        if message.payload.school_id == POISON:
            raise ValueError("this school cannot be applied")
        conn.execute("INSERT INTO effects (message_id, member) VALUES (%s, %s)", (message.envelope.id, who))

    return ConsumerLoop(service="test", name=name, topics_=[topic], policies={SchoolRegisteredV1: record},
                        sink=ProjectionSink(db, name), db=db, bootstrap=bootstrap, partitions=1,
                        metrics=metrics or Metrics("test"), logger=configure_logging("test", "consumer"),
                        lease_s=30, member=who)


def read_topic(bootstrap: str, topic: str, timeout: float = 3) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dlq-reader", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    out, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error():
            out.append(msg)
    consumer.close()
    return out


def effects(db: Database) -> list[str]:
    with db.transaction() as conn:
        return sorted(r["message_id"] for r in conn.execute("SELECT message_id FROM effects").fetchall())


def poll_until(loop: ConsumerLoop, done, rounds: int = 60) -> None:
    for _ in range(rounds):
        loop.poll_once(lambda: False)
        if loop.leases.due():
            loop.rebalance()
        if done():
            return
    raise AssertionError("not done")


def test_a_poison_message_is_dead_lettered_once_when_its_lease_moves_before_the_skip_commits(world, kafka_bootstrap):
    """Member a dead-letters the poison message; before the transaction that moves its position past it commits,
    a stalls and its lease expires, b takes the partition over and reads the message again. Only one dead letter."""
    db, topic, name = world
    stream = Stream(kafka_bootstrap, topic)
    good = stream.send(str(uuid.uuid4()), 0)
    stream.send(POISON, 0)
    later = stream.send(str(uuid.uuid4()), 0)
    assert stream.producer.flush(10) == 0
    metrics = Metrics("test")
    a = member(db, kafka_bootstrap, topic, name, "a", metrics)
    b = member(db, kafka_bootstrap, topic, name, "b", metrics)
    real_skip, moved = a.sink.skip, []

    def lease_moves_then_skip(*args, **kwargs):
        if not moved:  # a stalls here: its member row and lease expire, b's heartbeat takes the partition
            with db.transaction() as conn:
                conn.execute("UPDATE consumer_members SET expires_at = now() - interval '1 second' WHERE member = 'a'")
                conn.execute("UPDATE consumer_leases SET expires_at = now() - interval '1 second' WHERE holder = 'a'")
            b.start()
            moved.append(dict(b.assigned))
        return real_skip(*args, **kwargs)

    a.sink.skip = lease_moves_then_skip
    try:
        a.start()
        poll_until(a, lambda: bool(moved))
        assert moved == [{(topic, 0): 2}], "b took the partition over at the next epoch"
        poll_until(b, lambda: len(effects(db)) == 2)
        assert effects(db) == sorted([good, later])
        a.rebalance()
        assert a.assigned == {}, "a found out it lost the partition"
        letters = read_topic(kafka_bootstrap, topics.dead_letter(name))
        assert [dict(m.headers())["dlq_reason"] for m in letters] == [b"processing_failed"]
        assert metrics.dead_lettered.labels("test", name, "processing_failed")._value.get() == 1
    finally:
        for lp in (a, b):
            lp.close_consumer()
