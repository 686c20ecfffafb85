"""Relays and topics that grow, on real PostgreSQL and a Kafka-protocol broker: every aggregate stays in one
partition while the partition count grows, and a grown topic's new partitions are headed with their parent, which
the consumer waits for (several replicas at once: test_relay_shards.py)."""

from __future__ import annotations

import time
from datetime import date
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from contracts.events import SchoolRegisteredV1, StudentEnrolledV1
from services.registry.adapters.publishing import to_contract
from services.runtime.consumer import ConsumerLoop, ProjectionSink
from services.runtime.kafka import PARTITIONS_HEADER, ensure_topics, partition_for
from services.runtime.relay import Relay
from tests.runtime.test_relay_consumer import Harness, id_number, published_through, read_all

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_when_the_partition_count_grows_every_aggregate_stays_where_its_first_event_went(database_url, broker):
    h = Harness(database_url, broker.bootstrap, partitions=3)
    h.enrol(6)
    first = h.relay()
    assert first.acquire_leadership()
    state = first.check_broker(first.load_state())
    while state.position < h.app.store.recorder.max_notification_id():
        state = first.publish_batch(state)
    first.settle(drain=True)
    first.leadership.release()
    old = {str(n.originator_id) for n in h.app.store.recorder.select_notifications(start=1, limit=100)}
    # more partitions (tansu cannot add partitions to a topic, so the broker loses its data and the relay refills)
    broker.stop()
    broker.start()
    school, _ = h.app.registration.register_school(code="S2", name="二小", level="primary", county_code="520102",
                                      township_code="520102001", meta={})
    old_school, _ = h.app.registration.register_school(code="S1", name="一小", level="primary", county_code="520102",
                                          township_code="520102001", meta={})
    old_school = h.app.registration.school(old_school.school_id)
    old_school.close(on=date(2026, 11, 2), reason="merged", merged_into=str(school.school_id), meta={})
    h.app.store.save(old_school)  # a new event of an aggregate first stored under three partitions
    for i in range(100, 104):  # four new students
        h.app.registration.enrol_student(today=date(2026, 11, 1), meta={}, id_number=id_number(i), name=f"学生{i}",
                            birth_date=date(2015, 3, 1), school_id=school.school_id, grade=5, class_name="5-1")
    assert h.app.store.recorder.max_notification_id() > state.position
    grown = Relay(service=h.schema, app=h.app.store, db=h.db, topic=h.topic, to_contract=first.to_contract,
                  bootstrap=broker.bootstrap, partitions=8, metrics=h.metrics, logger=h.log)
    h.start(grown)
    try:
        assert published_through(grown, h.app.store.recorder.max_notification_id(), timeout=60)
        assert grown.load_state().plan.current == 8
        messages = read_all(broker.bootstrap, h.topic, 8, timeout=3)
        by_key = defaultdict(set)
        for m in messages:
            key, count = m.key().decode(), int(dict(m.headers())[PARTITIONS_HEADER])
            assert m.partition() == partition_for(key, count)
            assert count == (3 if key in old else 8)
            by_key[key].add(m.partition())
        assert all(len(p) == 1 for p in by_key.values())
        assert len(by_key) == len(old) + 5 and len(messages) == h.app.store.recorder.max_notification_id()
    finally:
        h.stop_all()


def test_on_a_grown_topic_the_relay_heads_each_new_partition_with_its_parent_and_the_consumer_waits_for_it(
        database_url, kafka_bootstrap):
    """The relay's part of the grown-topic contract (services/runtime/README.md, *Partition-count changes*), with
    the consumer's: a topic of 12 partitions that the old plan used 6 of (tansu cannot add partitions); after the
    switch, the first message on each new partition names its parent and the parent's last sequence before the
    switch, and a consumer holding only the new partitions applies nothing behind such a message until the
    parent's holder has applied the parent that far."""
    h = Harness(database_url, kafka_bootstrap, partitions=6)
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), [h.topic], 12)
    h.enrol(40)
    old = Relay(service=h.schema, app=h.store, db=h.db, topic=h.topic, to_contract=to_contract,
                bootstrap=kafka_bootstrap, partitions=6, metrics=h.metrics, logger=h.log)
    switch = drain(old)
    assert old.load_state().plan.current == 6
    school = h.app.registration.register_school(code="S9", name="九小", level="primary", county_code="520102",
                                                township_code="520102001", meta={})[0]
    for i in range(200, 260):  # new aggregates: hashed by 12
        h.app.registration.enrol_student(today=date(2026, 11, 1), meta={}, id_number=id_number(i), name=f"学生{i}",
                                         birth_date=date(2015, 3, 1), school_id=school.school_id, grade=5,
                                         class_name="5-1")
    grown = Relay(service=h.schema, app=h.store, db=h.db, topic=h.topic, to_contract=to_contract,
                  bootstrap=kafka_bootstrap, partitions=12, metrics=h.metrics, logger=h.log)
    drain(grown)
    assert grown.load_state().plan.steps == ((0, 6), (switch, 12))
    messages = sorted(read_all(kafka_bootstrap, h.topic, 12, timeout=3), key=lambda m: (m.partition(), m.offset()))
    assert len(messages) == h.store.recorder.max_notification_id()
    on = defaultdict(list)
    for m in messages:
        on[m.partition()].append(m)
    sequence = lambda m: int(dict(m.headers())["ce_sequence"])  # noqa: E731
    heads = {}
    for partition, got in on.items():
        for m in got:
            hs = dict(m.headers())
            if partition < 6:
                assert "ce_partitionparent" not in hs, "old partitions are never headed"
                continue
            before = [sequence(x) for x in on[partition % 6] if sequence(x) <= switch]
            first_of_aggregate = hs["ce_aggregateversion"] == b"1"
            if (m is got[0] or first_of_aggregate) and before:
                assert (hs["ce_partitionparent"], hs["ce_parentsequence"]) == (
                    str(partition % 6).encode(), str(max(before)).encode()), (partition, hs)
                heads.setdefault(partition, (sequence(m), max(before)))
            else:  # behind the first message, or a parent that had nothing before the switch: nothing to wait for
                assert "ce_partitionparent" not in hs
    assert set(heads) == set(range(6, 12)), "every new partition got a message here"
    # a refill (another relay process, a broker that lost its data) heads them the same: the sequence is recomputed
    again = Relay(service=h.schema, app=h.store, db=h.db, topic=h.topic, to_contract=to_contract,
                  bootstrap=kafka_bootstrap, partitions=12, metrics=h.metrics, logger=h.log)
    assert {p: again.parent_sequence(grown.load_state().plan, switch, p - 6) for p in heads} == {
        p: upto for p, (_s, upto) in heads.items()}

    # the consumer: a ghost member holds the six old partitions and applies nothing
    name = f"{h.schema}-grown"
    h.db.execute_script("CREATE TABLE IF NOT EXISTS applied (n bigserial PRIMARY KEY, sequence bigint NOT NULL);")

    def record(message, conn):
        conn.execute("INSERT INTO applied (sequence) VALUES (%s)", (message.envelope.sequence,))

    consumer = ConsumerLoop(service="test", name=name, topics_=[h.topic],
                            policies={StudentEnrolledV1: record, SchoolRegisteredV1: record},
                            sink=ProjectionSink(h.db, name), db=h.db, bootstrap=kafka_bootstrap, partitions=12,
                            metrics=h.metrics, logger=h.log, lease_s=2.0, member="real")
    consumer.leases.record_counts({h.topic: {6}})  # it read the topic before it grew
    with h.db.transaction() as conn:
        conn.execute("INSERT INTO consumer_members VALUES (%s, 'ghost', now() + interval '1 hour')", (name,))
        conn.execute("INSERT INTO consumer_leases SELECT %s, %s, p, 'ghost', 1, now() + interval '1 hour' "
                     "FROM generate_series(0, 5) p", (name, h.topic))
    h.start(consumer)
    try:
        deadline = time.monotonic() + 30
        while sorted(p for _t, p in consumer.assigned) != list(range(6, 12)):
            assert time.monotonic() < deadline, consumer.assigned
            time.sleep(0.1)
        time.sleep(3)  # several polls of every held partition
        applied = applied_sequences(h)
        for partition, (first_headed, _upto) in heads.items():
            behind = [sequence(m) for m in on[partition] if sequence(m) >= first_headed]
            assert not set(behind) & set(applied), f"partition {partition} waited for its parent"
        with h.db.transaction() as conn:  # the ghost goes: the real member takes the parents too
            conn.execute("DELETE FROM consumer_members WHERE member = 'ghost'")
            conn.execute("UPDATE consumer_leases SET holder = NULL, expires_at = NULL WHERE holder = 'ghost'")
        deadline = time.monotonic() + 60
        while len(applied_sequences(h)) < len(messages):
            assert time.monotonic() < deadline, len(applied_sequences(h))
            time.sleep(0.2)
        order = {s: i for i, s in enumerate(applied_sequences(h))}
        assert len(order) == len(messages), "each message applied once"
        for partition, (first_headed, upto) in heads.items():
            assert order[upto] < order[first_headed], (partition, upto, first_headed)
    finally:
        h.stop_all()


def applied_sequences(h: Harness) -> list[int]:
    with h.db.transaction() as conn:
        return [r["sequence"] for r in conn.execute("SELECT sequence FROM applied ORDER BY n").fetchall()]


def drain(relay: Relay) -> int:
    """Publishes everything as the leader, then lets go; the position reached."""
    assert relay.acquire_leadership()
    state = relay.check_broker(relay.load_state())
    while state.position < relay.app.recorder.max_notification_id():
        state = relay.publish_batch(state)
    relay.settle(drain=True)
    relay.leadership.release()
    return state.position
