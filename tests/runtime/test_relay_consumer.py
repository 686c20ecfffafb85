"""The runtime's guarantees on real PostgreSQL and a real Kafka-protocol broker, shown on the registry's event store
(here, not in services/runtime/tests: the runtime imports no service): no event lost between store and broker,
effects exactly once, poison messages dead-lettered."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from contracts.events import SchoolRegisteredV1, StudentEnrolledV1
from services.registry.adapters.publishing import to_contract
from services.registry.application.registry import Registry
from services.registry.application.store import RegistryApp
from services.runtime.consumer import ConsumerLoop, ProjectionSink
from services.runtime.db import Database
from services.runtime.eventstore import build_application
from services.runtime.logging import configure_logging
from services.runtime.metrics import Metrics
from services.runtime.relay import Relay
from services.runtime.settings import ServiceSettings

pytestmark = pytest.mark.integration

ID_NUMBERS = []


def id_number(n: int) -> str:
    weights, check = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), "10X98765432"
    first = f"52010220150301{n:03d}"
    return first + check[sum(int(d) * w for d, w in zip(first, weights)) % 11]


class Harness:
    """A registry event store, its relay, and a counting projection consumer, each on a thread."""

    def __init__(self, database_url: str, bootstrap: str, partitions: int = 3) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.schema = f"rt_{suffix}"
        self.topic = f"test.registry.{suffix}"
        self.settings = ServiceSettings(database_url=database_url, kafka_bootstrap=bootstrap, env="test")
        self.store = build_application(RegistryApp, self.settings, self.schema)
        self.app = Registry(self.store)
        self.db = Database(database_url, self.schema)
        self.metrics = Metrics("test")
        self.log = configure_logging("test", "test")
        self.partitions = partitions
        self.bootstrap = bootstrap
        self.db.execute_script(
            "CREATE TABLE IF NOT EXISTS enrolled (student_id text PRIMARY KEY, times int NOT NULL);"
        )
        self.stops: list[threading.Event] = []
        self.threads: list[threading.Thread] = []

    def relay(self, safety_poll_s: float = 0.5) -> Relay:
        return Relay(
            service=self.schema, app=self.store, db=self.db, topic=self.topic, to_contract=to_contract,
            bootstrap=self.bootstrap, partitions=self.partitions, metrics=self.metrics, logger=self.log,
            safety_poll_s=safety_poll_s,
        )

    def consumer(self, policy=None) -> ConsumerLoop:
        def count(message, conn):
            conn.execute(
                "INSERT INTO enrolled VALUES (%s, 1) ON CONFLICT (student_id) DO UPDATE SET times = enrolled.times + 1",
                (message.payload.student_id,),
            )

        return ConsumerLoop(
            service="test", name=f"{self.schema}-c", topics_=[self.topic],
            policies={StudentEnrolledV1: policy or count, SchoolRegisteredV1: lambda m, c: None},
            sink=ProjectionSink(self.db, f"{self.schema}-c"), db=self.db, bootstrap=self.bootstrap,
            partitions=self.partitions, metrics=self.metrics, logger=self.log,
        )

    def start(self, loop) -> threading.Event:
        stop = threading.Event()
        thread = threading.Thread(target=loop.run, args=(stop.is_set,), daemon=True)
        thread.start()
        self.stops.append(stop)
        self.threads.append(thread)
        return stop

    def stop_all(self) -> None:
        for s in self.stops:
            s.set()
        for t in self.threads:
            t.join(15)

    def enrol(self, n: int) -> None:
        school, _ = self.app.registration.register_school(
            code="S1", name="一小", level="primary", county_code="520102", township_code="520102001", meta={}
        )
        for i in range(n):
            self.app.registration.enrol_student(
                today=date(2026, 11, 1), meta={"actor_id": "u1", "actor_role": "school_staff", "jurisdiction": "520102"},
                id_number=id_number(i), name=f"学生{i}", birth_date=date(2015, 3, 1), school_id=school.school_id,
                grade=5, class_name="5-1",
            )

    def counts(self) -> dict[str, int]:
        with self.db.transaction() as conn:
            return {r["student_id"]: r["times"] for r in conn.execute("SELECT * FROM enrolled").fetchall()}

    def wait_for(self, n: int, timeout: float = 30) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = self.counts()
            if len(counts) >= n:
                return counts
            time.sleep(0.1)
        return self.counts()


def read_all(bootstrap: str, topic: str, partitions: int, timeout: float = 5) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error():
            out.append(msg)
    consumer.close()
    return out


def test_relay_publishes_cloudevents_keyed_by_aggregate_and_consumer_applies_each_once(database_url, kafka_bootstrap):
    h = Harness(database_url, kafka_bootstrap)
    h.enrol(20)
    h.start(h.relay())
    h.start(h.consumer())
    try:
        counts = h.wait_for(20)
        assert len(counts) == 20 and set(counts.values()) == {1}
        messages = read_all(kafka_bootstrap, h.topic, h.partitions, timeout=2)
        assert len(messages) == 21  # one school, twenty students
        headers = dict(messages[0].headers())
        assert headers["ce_specversion"] == b"1.0" and headers["ce_source"] == f"/baoxue/{h.schema}".encode()
        assert messages[0].key().decode() == headers["ce_subject"].decode()
        enrolled = [m for m in messages if dict(m.headers())["ce_type"].endswith(b"StudentEnrolled.v1")]
        assert all(dict(m.headers())["ce_actorid"] == b"u1" for m in enrolled)
        assert b"\xe5\xad\xa6\xe7\x94\x9f" not in b"".join(m.value() for m in enrolled)  # no clear names ("学生")
    finally:
        h.stop_all()


def published_through(relay: Relay, position: int, timeout: float) -> bool:
    """Waits until the relay has stored a position at or past ``position``."""
    deadline = time.monotonic() + timeout
    while relay.load_state().position < position and time.monotonic() < deadline:
        time.sleep(0.05)
    return relay.load_state().position >= position


def test_a_quiet_relay_publishes_a_new_event_when_notified_without_waiting_for_its_safety_poll(
        database_url, kafka_bootstrap):
    h = Harness(database_url, kafka_bootstrap)
    h.enrol(0)  # the school
    relay = h.relay(safety_poll_s=3600)
    h.start(relay)
    try:
        assert published_through(relay, h.app.store.recorder.max_notification_id(), timeout=30)
        time.sleep(1)  # the relay has looked, found nothing more, and is waiting
        h.enrol(1)
        assert published_through(relay, h.app.store.recorder.max_notification_id(), timeout=30), "the NOTIFY woke nobody"
    finally:
        h.stop_all()


def test_a_relay_whose_listening_connection_was_cut_listens_again_when_it_retakes_the_lead(
        database_url, kafka_bootstrap):
    h = Harness(database_url, kafka_bootstrap)
    h.enrol(0)
    relay = h.relay(safety_poll_s=3600)
    h.start(relay)
    try:
        assert published_through(relay, h.app.store.recorder.max_notification_id(), timeout=30)
        time.sleep(1)
        backend = relay.leadership._conn.info.backend_pid  # noqa: SLF001 - the connection a restart would cut
        with h.db.transaction() as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (backend,))
        h.enrol(1)  # may commit before the relay listens again: its first look after retaking the lead finds it
        assert published_through(relay, h.app.store.recorder.max_notification_id(), timeout=30)
        time.sleep(1)
        h.enrol(0)  # another school, on a quiet relay again
        assert published_through(relay, h.app.store.recorder.max_notification_id(), timeout=30), "not listening again"
    finally:
        h.stop_all()


def test_an_event_whose_notify_was_missed_is_published_by_the_safety_poll(database_url, kafka_bootstrap):
    h = Harness(database_url, kafka_bootstrap)
    h.enrol(0)
    relay = h.relay(safety_poll_s=1)
    relay.leadership.listen = f"nobody_notifies_{h.schema}"  # as if every NOTIFY were lost
    h.start(relay)
    try:
        assert published_through(relay, h.app.store.recorder.max_notification_id(), timeout=30)
        time.sleep(1.5)
        h.enrol(2)
        assert published_through(relay, h.app.store.recorder.max_notification_id(), timeout=30)
    finally:
        h.stop_all()


def test_a_broker_that_lost_its_data_is_refilled_and_nothing_is_doubled(database_url, broker):
    h = Harness(database_url, broker.bootstrap)
    h.enrol(10)
    h.start(h.relay())
    h.start(h.consumer())
    try:
        assert len(h.wait_for(10)) == 10
        broker.stop()  # tansu keeps topics in memory: everything on the broker is gone
        h.enrol_more = None
        broker.start()
        school = h.app.registration.register_school(
            code="S1", name="一小", level="primary", county_code="520102", township_code="520102001", meta={}
        )[0]
        for i in range(10, 15):
            h.app.registration.enrol_student(
                today=date(2026, 11, 1), meta={}, id_number=id_number(i), name="新生", birth_date=date(2015, 3, 1),
                school_id=school.school_id, grade=5, class_name="5-1",
            )
        counts = h.wait_for(15, timeout=60)
        assert len(counts) == 15
        assert set(counts.values()) == {1}, "a refill must never apply an effect twice"
        assert len(read_all(broker.bootstrap, h.topic, h.partitions, timeout=2)) == 16  # refilled from the start
        assert h.metrics.relay_refills.labels(h.schema)._value.get() >= 1
    finally:
        h.stop_all()


def test_duplicates_are_harmless_and_poison_messages_are_dead_lettered_without_blocking(database_url, kafka_bootstrap):
    h = Harness(database_url, kafka_bootstrap, partitions=1)

    def fussy(message, conn):
        if message.payload.class_name == "毒":
            raise RuntimeError("cannot process this one")
        conn.execute(
            "INSERT INTO enrolled VALUES (%s, 1) ON CONFLICT (student_id) DO UPDATE SET times = enrolled.times + 1",
            (message.payload.student_id,),
        )

    h.enrol(3)
    relay = h.relay()
    h.start(relay)
    messages = []
    deadline = time.monotonic() + 20
    while len(messages) < 4 and time.monotonic() < deadline:
        messages = read_all(kafka_bootstrap, h.topic, 1, timeout=1)
    h.stop_all()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    last = messages[-1]
    # the same message delivered again (a redelivery), then garbage, then a payload that breaks its contract
    producer.produce(h.topic, key=last.key(), value=last.value(), headers=last.headers(), partition=0)
    producer.produce(h.topic, key=b"x", value=b"not a cloudevent", headers=[], partition=0)
    bad_headers = [(k, v) for k, v in last.headers() if k not in ("ce_sequence", "ce_partitionprev")]
    seq = int(dict(last.headers())["ce_sequence"])
    producer.produce(h.topic, key=b"y", value=b'{"student_id": 5}', partition=0,
                     headers=bad_headers + [("ce_sequence", str(seq + 1000).encode()), ("ce_partitionprev", str(seq).encode())])
    poison = last.value().replace(b'"5-1"', '"毒"'.encode())
    producer.produce(h.topic, key=b"z", value=poison, partition=0,
                     headers=bad_headers + [("ce_sequence", str(seq + 2000).encode()), ("ce_partitionprev", str(seq + 1000).encode())])
    producer.flush(10)
    consumer = h.consumer(policy=fussy)
    h.start(consumer)
    try:
        counts = h.wait_for(3)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and consumer.positions.get((h.topic, 0), 0) < seq + 2000:
            time.sleep(0.1)
        assert consumer.positions[(h.topic, 0)] == seq + 2000, "the partition moved past the poison messages"
        assert set(h.counts().values()) == {1} and len(counts) == 3
        dead = read_all(kafka_bootstrap, consumer.dlq_topic, 1, timeout=2)
        reasons = sorted(dict(m.headers())["dlq_reason"].decode() for m in dead)
        assert reasons == ["invalid_envelope", "invalid_payload", "processing_failed"]
        assert h.metrics.dead_lettered.labels("test", consumer.name, "processing_failed")._value.get() == 1
    finally:
        h.stop_all()


class LogSpy:
    """A logger that remembers the events logged through it (and logs them on)."""

    def __init__(self, log) -> None:
        self.log, self.events = log, []

    def bind(self, **kw):
        return self

    def __getattr__(self, level):
        def emit(event, **kw):
            self.events.append(event)
            getattr(self.log, level)(event, **kw)
        return emit


def test_a_consumer_that_lost_its_broker_is_replaced_before_it_reaches_the_one_that_came_back(database_url, broker):
    """The broker restarted empty with a new cluster id: the consumer loop replaces its Kafka client when the client
    reports every broker down, before that client can reconnect (kafka.REPLACED_ON_LOSS) and fetch by topic ids of
    the lost cluster (tansu answers those with a reply that crashes librdkafka: services/runtime/README.md, *Broker
    loss*). So the old client never sees the new cluster (the loop never logs ``consumer_broker_changed``), effects
    stay exactly once, and the offset hints kept for the new cluster are offsets of the new cluster."""
    h = Harness(database_url, broker.bootstrap)
    h.enrol(5)
    consumer = h.consumer()
    spy = consumer.log = LogSpy(consumer.log)
    h.start(h.relay())
    h.start(consumer)
    try:
        assert len(h.wait_for(5)) == 5
        old_client = consumer.consumer
        broker.stop()
        broker.start()
        school = h.app.registration.register_school(
            code="S1", name="一小", level="primary", county_code="520102", township_code="520102001", meta={}
        )[0]
        for i in range(10, 15):
            h.app.registration.enrol_student(
                today=date(2026, 11, 1), meta={}, id_number=id_number(i), name="新生", birth_date=date(2015, 3, 1),
                school_id=school.school_id, grade=5, class_name="5-1",
            )
        counts = h.wait_for(10, timeout=60)
        assert len(counts) == 10 and set(counts.values()) == {1}
        assert "consumer_broker_lost" in spy.events
        assert "consumer_broker_changed" not in spy.events, "the old client reached the new broker"
        assert consumer.consumer is not old_client
        cluster = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=5).cluster_id
        assert consumer.cluster_id == cluster
        time.sleep(1.0)  # the hints of the last poll are written after its positions
        with h.db.transaction() as conn:
            hints = conn.execute("SELECT partition, next_offset FROM consumer_offsets WHERE consumer = %s AND "
                                 "cluster_id = %s", (consumer.name, cluster)).fetchall()
        ends: dict[int, int] = {}  # what the new broker holds (its ListOffsets answer is not always the end)
        for m in read_all(broker.bootstrap, h.topic, h.partitions, timeout=2):
            ends[m.partition()] = max(ends.get(m.partition(), 0), m.offset() + 1)
        assert hints
        for row in hints:  # never an offset of the lost broker's, labelled as the new one's
            assert row["next_offset"] <= ends[row["partition"]]
    finally:
        h.stop_all()


def test_after_the_broker_lost_its_data_a_running_consumer_still_dead_letters(database_url, broker):
    h = Harness(database_url, broker.bootstrap, partitions=1)

    def fussy(message, conn):
        if message.payload.class_name == "毒":
            raise RuntimeError("cannot process this one")
        conn.execute(
            "INSERT INTO enrolled VALUES (%s, 1) ON CONFLICT (student_id) DO UPDATE SET times = enrolled.times + 1",
            (message.payload.student_id,),
        )

    h.enrol(2)
    consumer = h.consumer(policy=fussy)
    h.start(h.relay())
    h.start(consumer)
    try:
        assert len(h.wait_for(2)) == 2
        broker.stop()
        broker.start()  # a new, empty broker: topics and producer ids are gone
        school = h.app.registration.register_school(
            code="S1", name="一小", level="primary", county_code="520102", township_code="520102001", meta={}
        )[0]
        for i, class_name in ((10, "毒"), (11, "5-1")):
            h.app.registration.enrol_student(
                today=date(2026, 11, 1), meta={}, id_number=id_number(i), name="新生", birth_date=date(2015, 3, 1),
                school_id=school.school_id, grade=5, class_name=class_name,
            )
        assert len(h.wait_for(3, timeout=60)) == 3, "the partition moved past the poison message"
        dead = []
        deadline = time.monotonic() + 30
        while not dead and time.monotonic() < deadline:
            dead = read_all(broker.bootstrap, consumer.dlq_topic, 1, timeout=1)
        assert [dict(m.headers())["dlq_reason"] for m in dead] == [b"processing_failed"]
        # created by the consumer with its partitions, not auto-created with the broker's default
        topic = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=5).topics[consumer.dlq_topic]
        assert len(topic.partitions) == 1
        assert set(h.counts().values()) == {1}
    finally:
        h.stop_all()


def test_copies_in_the_wrong_partition_and_strays_ahead_of_a_refill_never_block_a_partition(database_url, kafka_bootstrap):
    from services.runtime.kafka import partition_for

    h = Harness(database_url, kafka_bootstrap, partitions=3)
    h.enrol(6)
    h.start(h.relay())
    consumer = h.consumer()
    h.start(consumer)
    try:
        assert len(h.wait_for(6)) == 6
        h.stop_all()
        messages = read_all(kafka_bootstrap, h.topic, 3, timeout=2)
        last = max(messages, key=lambda m: int(dict(m.headers())["ce_sequence"]))
        home = partition_for(last.key().decode(), 3)
        elsewhere = (home + 1) % 3
        headers = dict(last.headers())
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        # a copy of a real message in a partition the relay never puts it in (someone replayed it by hand)
        future = [(k, v) for k, v in last.headers() if k not in ("ce_sequence", "ce_partitionprev")]
        seq = int(headers["ce_sequence"])
        producer.produce(h.topic, key=last.key(), value=last.value(), partition=elsewhere,
                         headers=future + [("ce_sequence", str(seq + 500).encode()), ("ce_partitionprev", str(seq + 400).encode())])
        # a stray in its own partition whose predecessors never arrive before it (published ahead of a refill)
        producer.produce(h.topic, key=last.key(), value=last.value(), partition=home,
                         headers=future + [("ce_sequence", str(seq + 900).encode()), ("ce_partitionprev", str(seq + 800).encode())])
        # then poison behind each: they must still reach the dead-letter topic
        for p in (home, elsewhere):
            producer.produce(h.topic, key=b"poison", value=b"not a cloudevent", partition=p)
        producer.flush(10)
        consumer = h.consumer()
        h.stops.clear()
        h.threads.clear()
        h.start(consumer)
        dead = []
        deadline = time.monotonic() + 40
        while len(dead) < 2 and time.monotonic() < deadline:
            dead = read_all(kafka_bootstrap, consumer.dlq_topic, 3, timeout=1)
        assert len(dead) == 2, "a copy or a stray blocked its partition"
        assert set(h.counts().values()) == {1}
        assert h.metrics.consumed.labels("test", consumer.name, h.topic, "misrouted")._value.get() == 1
        assert h.metrics.consumed.labels("test", consumer.name, h.topic, "stray")._value.get() == 1
    finally:
        h.stop_all()


def test_a_topic_created_by_someone_else_with_more_partitions_is_read_whole(database_url, kafka_bootstrap):
    from confluent_kafka.admin import AdminClient, NewTopic

    h = Harness(database_url, kafka_bootstrap, partitions=3)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(h.topic, num_partitions=4, replication_factor=1)])[h.topic].result(10)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(h.topic, key=b"poison", value=b"not a cloudevent", partition=3)  # a partition we never write
    producer.flush(10)
    h.enrol(3)
    consumer = h.consumer()
    h.start(h.relay())
    h.start(consumer)
    try:
        assert len(h.wait_for(3)) == 3
        dead = []
        deadline = time.monotonic() + 30
        while not dead and time.monotonic() < deadline:
            dead = read_all(kafka_bootstrap, consumer.dlq_topic, 3, timeout=1)
        assert [dict(m.headers())["dlq_reason"] for m in dead] == [b"invalid_envelope"]
    finally:
        h.stop_all()


def test_messages_without_a_policy_move_the_position_once_per_batch_and_are_not_read_again(database_url, kafka_bootstrap):
    h = Harness(database_url, kafka_bootstrap)
    h.enrol(60)
    relay = h.relay()
    h.start(relay)
    messages: list = []
    deadline = time.monotonic() + 20
    while len(messages) < 61 and time.monotonic() < deadline:
        messages = read_all(kafka_bootstrap, h.topic, h.partitions, timeout=1)
    h.stop_all()
    assert len(messages) == 61
    last = {}  # the last sequence in each partition
    for m in messages:
        last[m.partition()] = max(last.get(m.partition(), 0), int(dict(m.headers())["ce_sequence"]))
    writes: list[int] = []
    schools: list[str] = []

    class CountingSink(ProjectionSink):
        def skip_many(self, positions):
            writes.append(len(positions))
            super().skip_many(positions)

    def loop() -> ConsumerLoop:  # a policy for schools only: the sixty enrolments are skipped
        return ConsumerLoop(
            service="test", name=f"{h.schema}-s", topics_=[h.topic],
            policies={SchoolRegisteredV1: lambda m, conn: schools.append(m.payload.school_id)},
            sink=CountingSink(h.db, f"{h.schema}-s"), db=h.db, bootstrap=kafka_bootstrap,
            partitions=h.partitions, metrics=h.metrics, logger=h.log,
        )

    first = loop()
    h.start(first)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(first.sink.last_applied(first.track(h.topic, p)) < s
                                                  for p, s in last.items()):
            time.sleep(0.1)
        assert {p: first.sink.last_applied(first.track(h.topic, p)) for p in last} == last
        assert len(schools) == 1
        assert 0 < sum(writes) <= 20, f"{sum(writes)} position writes for 60 skipped messages"
    finally:
        h.stop_all()
    h.stops.clear(), h.threads.clear()
    second = loop()  # a restart resumes after the skipped messages: the school is not applied again
    h.start(second)
    try:
        time.sleep(3)
        assert len(schools) == 1
        assert {p: second.positions[(h.topic, p)] for p in last} == last
    finally:
        h.stop_all()
