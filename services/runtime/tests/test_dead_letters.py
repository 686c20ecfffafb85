"""Dead letters on real PostgreSQL and a Kafka-protocol broker: a poison message is recorded once, in the fenced
transaction that moves its partition's position past it, however its lease moves."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from psycopg.rows import dict_row
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from contracts import topics
from contracts.events.registry import SchoolRegisteredV1
from services.runtime.consumer import LEASES_DDL, ConsumerLoop, ProjectionSink
from services.runtime.consumer_dlq import DeadLetters, Replay, _AlreadyReplayed
from services.runtime.consumer_sinks import EventSink
from services.runtime.db import Database
from services.runtime.kafka import ensure_topics
from services.runtime.logging import configure_logging
from services.runtime.metrics import Metrics
from services.runtime.tests.replicas import EFFECTS_DDL, Stream
from services.runtime.tests.test_batch import Tally, start_or_add
from services.runtime.tests.test_batched_and_fenced import new_app

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


def letters(db: Database, name: str) -> list[dict]:
    with db.transaction() as conn:
        return conn.execute("SELECT * FROM consumer_dead_letters WHERE consumer = %s ORDER BY id", (name,)).fetchall()


def test_a_message_without_an_envelope_read_again_is_recorded_once(world, kafka_bootstrap):
    db, topic, name = world
    producer = Stream(kafka_bootstrap, topic).producer
    producer.produce(topic, key=b"k", value=b"not a cloudevent", partition=0)
    assert producer.flush(10) == 0
    a = member(db, kafka_bootstrap, topic, name, "a")
    try:
        a.start()
        poll_until(a, lambda: len(letters(db, name)) == 1)
        a.rewind(topic, 0, "read it again")  # as a gap in the sequence chain makes it do
        for _ in range(5):
            a.poll_once(lambda: False)
        found = letters(db, name)
        assert [(r["reason"], r["identity"].startswith(f"{topic}/0/0@"), r["sequence"]) for r in found] == [
            ("invalid_envelope", True, None)]
        assert len(read_topic(kafka_bootstrap, topics.dead_letter(name))) == 1
    finally:
        a.close_consumer()


def test_a_replay_applies_the_letter_once_through_the_policy_and_marks_it_in_the_same_transaction(world,
                                                                                                 kafka_bootstrap):
    db, topic, name = world
    stream = Stream(kafka_bootstrap, topic)
    stream.send(POISON, 0)
    assert stream.producer.flush(10) == 0
    a = member(db, kafka_bootstrap, topic, name, "a")
    try:
        a.start()
        poll_until(a, lambda: len(letters(db, name)) == 1)
    finally:
        a.close_consumer()
    (letter,) = letters(db, name)
    assert (letter["status"], letter["reason"], letter["sequence"]) == ("dead", "processing_failed", 1)
    assert letter["error"] == "ValueError: this school cannot be applied"
    def still_poison(message, conn) -> None:
        raise ValueError("this school still cannot be applied")

    replay = Replay(db=db, consumer=name, policies={SchoolRegisteredV1: still_poison}, sink=a.sink, log=a.log)
    # still poison: it stays dead, with the error of this attempt
    assert replay.replay(letter["id"]).outcome == "failed"
    (after,) = letters(db, name)
    assert (after["status"], after["replay_attempts"]) == ("dead", 1) and "cannot be applied" in after["error"]
    assert effects(db) == []

    def fixed(message, conn) -> None:
        conn.execute("INSERT INTO effects (message_id, member) VALUES (%s, 'replay')", (message.envelope.id,))

    replay = Replay(db=db, consumer=name, policies={SchoolRegisteredV1: fixed}, sink=a.sink, log=a.log)
    assert [o.outcome for o in replay.replay_all()] == ["replayed"]
    assert effects(db) == [f"{POISON}:1"]
    assert replay.replay(letter["id"]).outcome == "already_replayed"
    assert replay.replay_all() == [] and replay.replay(10**9).outcome == "missing"
    assert effects(db) == [f"{POISON}:1"], "applied once"
    (done,) = letters(db, name)
    assert (done["status"], done["replay_attempts"]) == ("replayed", 2) and done["replayed_at"] is not None
    assert a.sink.last_applied(a.track(topic, 0)) == 1, "the position is not moved"


def test_a_replay_waits_for_the_effect_transaction_in_flight_on_its_partition(world, kafka_bootstrap):
    db, topic, name = world
    stream = Stream(kafka_bootstrap, topic)
    stream.send(POISON, 0)
    assert stream.producer.flush(10) == 0
    a = member(db, kafka_bootstrap, topic, name, "a")
    try:
        a.start()
        poll_until(a, lambda: len(letters(db, name)) == 1)
    finally:
        a.close_consumer()

    def fixed(message, conn) -> None:
        conn.execute("INSERT INTO effects (message_id, member) VALUES (%s, 'replay')", (message.envelope.id,))

    replay = Replay(db=db, consumer=name, policies={SchoolRegisteredV1: fixed}, sink=a.sink, log=a.log)
    outcome: list = []
    with psycopg.connect(db.url, row_factory=dict_row) as holder:
        holder.execute(f'SET search_path TO "{db.schema}"')
        a.leases.fence(holder, [a.track(topic, 0)])  # a member's effect transaction on the partition, not committed
        thread = threading.Thread(target=lambda: outcome.append(replay.replay(letters(db, name)[0]["id"])))
        thread.start()
        deadline = time.monotonic() + 30
        while not waiting_on_a_lock(db):
            assert time.monotonic() < deadline, "the replay never reached the lease row"
            time.sleep(0.05)
        assert effects(db) == [] and letters(db, name)[0]["status"] == "dead"
        holder.commit()
    thread.join(30)
    assert [o.outcome for o in outcome] == ["replayed"] and effects(db) == [f"{POISON}:1"]


def waiting_on_a_lock(db: Database) -> bool:
    with db.transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE "
                            "'%consumer_leases%FOR UPDATE%'").fetchone()["n"] > 0


class Polled:
    """A message as confluent-kafka hands it over (what a dead letter is recorded from)."""

    def __init__(self, topic: str, partition: int, offset: int, key: bytes, value: bytes, headers: list) -> None:
        self._t, self._p, self._o, self._k, self._v, self._h = topic, partition, offset, key, value, headers

    def topic(self): return self._t
    def partition(self): return self._p
    def offset(self): return self._o
    def key(self): return self._k
    def value(self): return self._v
    def headers(self): return self._h


def test_an_event_store_consumers_letter_is_replayed_into_the_store_with_its_mark_in_one_transaction(database_url):
    app = new_app(database_url)
    db = Database(database_url, app.recorder.datastore.schema)
    db.execute_script(LEASES_DDL)
    sink = EventSink(app)
    dead = DeadLetters(service="test", name="tallies", bootstrap="127.0.0.1:1", partitions=1, metrics=Metrics("test"),
                       log=configure_logging("test", "consumer"), db=db)
    school = str(uuid.uuid4())
    envelope_headers, key, value = encoded(school, 7)
    letter = dead.letter(Polled("t", 0, 41, key, value, envelope_headers), "processing_failed", "boom", sequence=7)
    sink.skip("tallies:t:0", 7, also=letter.write)
    assert letter.id is not None and app.last_tracked("tallies:t:0") == 7
    again = dead.letter(Polled("t", 0, 99, key, value, envelope_headers), "processing_failed", "boom", sequence=7)
    sink.skip("tallies:t:0", 7, also=again.write)
    assert again.id is None, "the same message (topic and sequence) is recorded once"

    def start_tally(message):
        return start_or_add(app, message.payload.school_id, 1)

    replay = Replay(db=db, consumer="tallies", policies={SchoolRegisteredV1: start_tally}, sink=sink,
                    log=configure_logging("test", "consumer"))
    assert replay.replay(letter.id).outcome == "replayed"
    assert replay.replay(letter.id).outcome == "already_replayed"
    with db.transaction() as conn:  # a second replay that read the letter before the first committed
        row = conn.execute("SELECT * FROM consumer_dead_letters WHERE id = %s", (letter.id,)).fetchone()
    policy, message = replay._message(row)
    with pytest.raises(_AlreadyReplayed):
        replay._apply(letter.id, policy, message)  # its claim, inside the store's insert, rolls it back
    tally = app.tally(Tally.create_id(school))
    assert (tally.count, tally.version) == (1, 2)
    assert app.last_tracked("tallies:t:0") == 7


def encoded(subject: str, sequence: int) -> tuple[list, bytes, bytes]:
    from datetime import datetime, timezone

    from contracts import Envelope
    from services.runtime.kafka import encode

    envelope = Envelope(id=f"{subject}:{sequence}", source="/baoxue/registry", type=SchoolRegisteredV1.ce_type(),
                        subject=subject, time=datetime.now(timezone.utc), aggregateversion=1, sequence=sequence,
                        partitionprev=0, actorid="system:test", actorrole="system", jurisdiction="520102",
                        correlationid=str(uuid.uuid4()))
    message = encode(envelope, SchoolRegisteredV1(school_id=subject, code="S1", name="一小", level="primary",
                                                  county_code="520102", township_code="520102001"))
    return list(message.headers.items()), message.key.encode() if isinstance(message.key, str) else message.key, \
        message.value
