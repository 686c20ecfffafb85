"""Replicas of one consumer share its partitions through leases in PostgreSQL (real processes, a real broker):
each takes its fair share, a replica killed with SIGKILL loses its partitions to the others within seconds, one
that joins takes its share, a grown topic's new partitions are leased, and every message's effect is applied
exactly once throughout."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions

from services.runtime.consumer import LEASES_DDL
from services.runtime.db import Database
from services.runtime.kafka import ensure_topics, partition_for
from services.runtime.tests.replicas import EFFECTS_DDL, Stream, loop, spawn

pytestmark = pytest.mark.integration
LEASE_S = 2.0


@pytest.fixture
def world(database_url, kafka_bootstrap):
    suffix = uuid.uuid4().hex[:8]
    db = Database(database_url, f"replicas_{suffix}")
    db.execute_script(EFFECTS_DDL + LEASES_DDL)
    yield db, f"test.replicas.{suffix}"
    db.close()


def holders(db: Database) -> Counter:
    """Partitions held per member (unexpired leases only)."""
    with db.transaction() as conn:
        rows = conn.execute("SELECT holder FROM consumer_leases WHERE consumer = 'replicated' AND holder IS NOT NULL "
                            "AND expires_at > now()").fetchall()
    return Counter(r["holder"] for r in rows)


def effects(db: Database) -> Counter:
    with db.transaction() as conn:
        return Counter(r["message_id"] for r in conn.execute("SELECT message_id FROM effects").fetchall())


def wait(condition, timeout: float, step: float = 0.05) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(step)
    return time.monotonic() - start


def test_three_replicas_share_24_partitions_and_a_killed_one_is_taken_over_exactly_once(world, database_url,
                                                                                         kafka_bootstrap):
    db, topic = world
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), [topic], 24)
    stream = Stream(kafka_bootstrap, topic)
    stream.produce(3000, 24)
    members = {f"m{i}": spawn(database_url, db.schema, kafka_bootstrap, topic, 24, f"m{i}", LEASE_S, work_ms=1)
               for i in range(3)}
    try:
        wait(lambda: sorted(holders(db).values()) == [8, 8, 8], timeout=60)
        wait(lambda: len(effects(db)) > 500, timeout=60)
        members["m0"].send_signal(signal.SIGKILL)  # mid-stream, leases not released
        members["m0"].wait(10)
        killed_at = time.monotonic()
        stream.produce(1000, 24)
        taken = wait(lambda: set(holders(db)) == {"m1", "m2"} and sum(holders(db).values()) == 24, timeout=30)
        print(f"\ntakeover of a SIGKILLed replica's partitions: {taken:.2f} s (lease {LEASE_S} s)")
        assert taken < 3 * LEASE_S
        assert sorted(holders(db).values()) == [12, 12]
        members["m3"] = spawn(database_url, db.schema, kafka_bootstrap, topic, 24, "m3", LEASE_S)
        wait(lambda: sorted(holders(db).values()) == [8, 8, 8] and "m3" in holders(db), timeout=30)
        stream.produce(1000, 24)
        wait(lambda: len(effects(db)) == len(stream.ids), timeout=90)
        time.sleep(LEASE_S)  # anything applied twice would show by now
        applied = effects(db)
        assert set(applied) == set(stream.ids), "no message lost"
        assert set(applied.values()) == {1}, "no message applied twice"
        assert time.monotonic() - killed_at < 120
        assert [m for m, p in members.items() if p.poll() is not None] == ["m0"], "only the killed one died"
    finally:
        stop(members)
    assert [p.returncode for m, p in members.items() if m != "m0"] == [0, 0, 0]


def stop(members: dict) -> None:
    for process in members.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in members.values():
        try:
            process.wait(20)
        except Exception:  # noqa: BLE001
            process.kill()


def test_a_replica_that_stops_releases_its_partitions_and_the_others_take_them_at_once(world, database_url,
                                                                                        kafka_bootstrap):
    db, topic = world
    loops = [loop(database_url, db.schema, kafka_bootstrap, topic, 6, f"t{i}", lease_s=30) for i in range(2)]
    stops = [threading.Event() for _ in loops]
    threads = [threading.Thread(target=lp.run, args=(s.is_set,), daemon=True) for lp, s in zip(loops, stops)]
    for t in threads:
        t.start()
    try:
        wait(lambda: sorted(holders(db).values()) == [3, 3], timeout=60)
        stops[0].set()
        threads[0].join(20)
        wait(lambda: holders(db) == {"t1": 6}, timeout=3 * 30 / 4)  # well before a 30 s lease would expire
    finally:
        for s in stops:
            s.set()
        for t in threads:
            t.join(20)


def test_a_topic_grown_from_6_to_12_partitions_is_read_whole_after_a_restart(world, database_url, kafka_bootstrap):
    """Tansu has no CreatePartitions (KIP-195), and librdkafka 2.16 crashes (SIGSEGV in its metadata cache) when a
    topic it reads is deleted under it: the replicas stop, the topic is made again with 12 partitions and refilled
    where each message was, and they start again told of 12 partitions (as a deployment would be)."""
    db, topic = world
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    ensure_topics(admin, [topic], 6)
    stream = Stream(kafka_bootstrap, topic)
    stream.produce(300, 6)
    members = {f"g{i}": spawn(database_url, db.schema, kafka_bootstrap, topic, 6, f"g{i}", LEASE_S) for i in range(2)}
    try:
        wait(lambda: len(effects(db)) == 300, timeout=60)
    finally:
        stop(members)
    assert [p.returncode for p in members.values()] == [0, 0]
    before = positions(db)
    try:
        admin.create_partitions([NewPartitions(topic, 12)])[topic].result(10)
    except KafkaException as exc:
        assert exc.args[0].code() == KafkaError._UNSUPPORTED_FEATURE
        admin.delete_topics([topic])[topic].result(10)
        wait(lambda: topic not in admin.list_topics(timeout=5).topics, timeout=10)
        ensure_topics(admin, [topic], 12)
        stream.replay()  # the older messages where they were: positions skip them
    stream.produce(300, 12)  # the relay, told of 12 partitions, routes new events by 12
    members = {f"h{i}": spawn(database_url, db.schema, kafka_bootstrap, topic, 12, f"h{i}", LEASE_S) for i in range(2)}
    try:
        wait(lambda: len(effects(db)) == 600, timeout=60)
        wait(lambda: sorted(holders(db).values()) == [6, 6], timeout=30)
        after = positions(db)
        assert {p for _t, p in after} == set(range(12)), "the new partitions are read"
        assert all(after[k] >= v for k, v in before.items()), "positions of the older partitions kept"
        time.sleep(1)
        assert set(effects(db).values()) == {1}
        assert all(p.poll() is None for p in members.values())
    finally:
        stop(members)
    assert [p.returncode for p in members.values()] == [0, 0]


def test_a_running_replica_leases_the_partitions_a_metadata_refresh_finds(world, database_url, kafka_bootstrap,
                                                                          monkeypatch):
    """A topic that grows under running replicas: the loop's periodic metadata look finds 12 partitions where it
    knew 6, leases the new ones and reads them (the first look is made to report 6, as before the growth)."""
    db, topic = world
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), [topic], 12)
    stream = Stream(kafka_bootstrap, topic)
    stream.produce(200, 12)
    replica = loop(database_url, db.schema, kafka_bootstrap, topic, 6, "solo", LEASE_S)
    real, looks = replica.partition_counts, []

    def counts(metadata):
        looks.append(1)
        return {t: 6 for t in real(metadata)} if len(looks) == 1 else real(metadata)

    monkeypatch.setattr(replica, "partition_counts", counts)
    done = threading.Event()
    thread = threading.Thread(target=replica.run, args=(done.is_set,), daemon=True)
    thread.start()
    try:
        wait(lambda: len(effects(db)) == 200, timeout=60)
        assert holders(db) == {"solo": 12} and len(replica.assigned) == 12
        assert set(effects(db).values()) == {1}
    finally:
        done.set()
        thread.join(20)


def positions(db: Database) -> dict:
    with db.transaction() as conn:
        return {(r["topic"], r["partition"]): r["sequence"] for r in conn.execute(
            "SELECT * FROM consumer_positions WHERE consumer = 'replicated'").fetchall()}


def test_a_message_on_a_new_partition_waits_until_its_keys_old_partition_is_drained(world, database_url,
                                                                                    kafka_bootstrap):
    """The relay's contract for a grown topic (services/runtime/README.md): the first message of a key on a new
    partition names the partition the key was on and the last sequence put there under the older count."""
    db, topic = world
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), [topic], 12)
    subject = next(s for s in (str(uuid.uuid4()) for _ in range(1000))
                   if partition_for(s, 12) != partition_for(s, 6))
    old, new = partition_for(subject, 6), partition_for(subject, 12)
    stream = Stream(kafka_bootstrap, topic)
    stream.sequence = 1  # sequence 1 is the key's last event on the old partition, published below, late
    later = stream.send(subject, new, {"ce_partitionparent": str(old).encode(), "ce_parentsequence": b"1"})
    assert stream.producer.flush(10) == 0
    replica = loop(database_url, db.schema, kafka_bootstrap, topic, 12, "solo", LEASE_S)
    replica.leases.record_counts({topic: {6}})  # as a consumer that read the topic before it grew remembers
    done = threading.Event()
    thread = threading.Thread(target=replica.run, args=(done.is_set,), daemon=True)
    thread.start()
    try:
        wait(lambda: len(replica.assigned) == 12, timeout=30)
        time.sleep(2)
        assert effects(db) == Counter(), "held until the old partition is drained"
        stream.sequence, stream.last = 0, {}
        earlier = stream.send(subject, old)
        assert stream.producer.flush(10) == 0
        wait(lambda: len(effects(db)) == 2, timeout=30)
        with db.transaction() as conn:
            order = [r["message_id"] for r in conn.execute("SELECT message_id FROM effects ORDER BY applied_at")]
        assert order == [earlier, later]
    finally:
        done.set()
        thread.join(20)
