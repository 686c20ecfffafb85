"""Relay shards on real PostgreSQL and a Kafka-protocol broker: several relay replicas of one store publish disjoint
partitions at once, a killed replica's partitions move to the others within the lease time with nothing lost,
the per-partition chain stays whole, and a position stored by the single-row relay before is taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

import psycopg
import pytest
from confluent_kafka.admin import AdminClient

from services.runtime.kafka import ensure_topics
from tests.runtime.test_relay_consumer import Harness, id_number, published_through, read_all

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 6


def relay_process(h: Harness, database_url: str, bootstrap: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.relay_process", database_url, bootstrap, h.schema, h.topic,
         str(PARTITIONS)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def holders(h: Harness) -> dict[str, list[int]]:
    with h.db.transaction() as conn:
        rows = conn.execute("SELECT holder, partition FROM consumer_leases WHERE consumer = %s AND holder IS NOT NULL "
                            "AND expires_at > now() ORDER BY partition", (f"relay:{h.schema}",)).fetchall()
    out: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        out[r["holder"]].append(r["partition"])
    return dict(out)


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(what)


def enrol_more(h: Harness, school_id, start: int, n: int) -> None:
    for i in range(start, start + n):
        h.app.registration.enrol_student(today=date(2026, 11, 1), meta={}, id_number=id_number(i % 1000),
                                         name=f"学生{i}", birth_date=date(2015, 3, 1), school_id=school_id, grade=5,
                                         class_name="5-1")


def chains(messages: list) -> tuple[dict[int, list[int]], dict[int, int]]:
    """Per partition, in offset order: the new sequences (each message's ``ce_partitionprev`` must name the last
    new one before it) and how many copies were passed over (a sequence at or below the last one, as consumers do)."""
    by_partition: dict[int, list] = defaultdict(list)
    for m in messages:
        by_partition[m.partition()].append(m)
    new: dict[int, list[int]] = {}
    passed: dict[int, int] = {}
    for partition, got in by_partition.items():
        last, seen, copies = 0, [], 0
        for m in sorted(got, key=lambda m: m.offset()):
            headers = dict(m.headers())
            sequence, prev = int(headers["ce_sequence"]), int(headers["ce_partitionprev"])
            if sequence <= last:
                copies += 1
                continue
            assert prev == last, f"partition {partition}: {sequence} names {prev}, the last was {last}"
            last = sequence
            seen.append(sequence)
        new[partition], passed[partition] = seen, copies
    return new, passed


def test_two_relay_processes_share_the_partitions_and_a_killed_ones_move_to_the_other_with_nothing_lost(
        database_url, kafka_bootstrap):
    h = Harness(database_url, kafka_bootstrap, partitions=PARTITIONS)
    h.enrol(20)
    h.relay()  # its tables (the processes would create them too)
    school = h.app.registration.register_school(code="S7", name="七小", level="primary", county_code="520102",
                                                township_code="520102001", meta={})[0]
    a, b = relay_process(h, database_url, kafka_bootstrap), relay_process(h, database_url, kafka_bootstrap)
    try:
        split = wait_until(lambda: (lambda held: held if sorted(map(len, held.values())) == [3, 3] else None)(
            holders(h)), 60, "two replicas holding three partitions each")
        assert sorted(p for ps in split.values() for p in ps) == list(range(PARTITIONS)), "each partition once"
        enrol_more(h, school.school_id, 100, 60)
        assert published_through(h.relay(), h.store.recorder.max_notification_id(), timeout=60)
        before_kill = read_all(kafka_bootstrap, h.topic, PARTITIONS, timeout=3)
        _new, passed = chains(before_kill)
        assert sum(passed.values()) == 0, "no copy while both ran (a rebalance drains first)"
        with h.db.transaction() as conn:  # both published: the rows of each one's partitions moved
            moved = {r["partition"] for r in conn.execute(
                "SELECT partition FROM relay_partitions WHERE topic = %s AND position > 0", (h.topic,)).fetchall()}
        assert moved == set(range(PARTITIONS))

        victim = next(m for m in split if m.split(":")[1] == str(a.pid))
        os.kill(a.pid, signal.SIGKILL)  # mid-stream: events keep coming while it dies
        a.wait(10)
        killed = time.monotonic()
        enrol_more(h, school.school_id, 200, 40)
        survivor = wait_until(lambda: (lambda held: held if len(held) == 1 and victim not in held
                                       and len(next(iter(held.values()))) == PARTITIONS else None)(holders(h)),
                              10.0, "the survivor holds every partition within the lease time (10 s)")
        took_over = time.monotonic() - killed
        print(f"partitions taken over {took_over:.2f} s after SIGKILL")
        enrol_more(h, school.school_id, 300, 20)
        total = h.store.recorder.max_notification_id()
        assert published_through(h.relay(), total, timeout=60)
        assert list(survivor) != [victim]
        messages = read_all(kafka_bootstrap, h.topic, PARTITIONS, timeout=3)
        new, passed = chains(messages)
        sequences = sorted(s for seen in new.values() for s in seen)
        assert sequences == sorted(set(sequences)) and len(sequences) == total, "every event once, none lost"
        survivor_own = set(split[next(m for m in split if m != victim)])
        assert all(passed[p] == 0 for p in survivor_own), "copies only where the killed replica published"
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
                p.wait(10)
        h.stop_all()


def test_each_partition_is_held_by_one_relay_at_a_time(database_url, kafka_bootstrap):
    h = Harness(database_url, kafka_bootstrap, partitions=PARTITIONS)
    first, second = h.relay(), h.relay()
    assert first.acquire_leadership()
    assert not second.acquire_leadership(), "nothing free yet: the first holds every partition"
    assert first.acquire_leadership()  # its next heartbeat gives up what is beyond its fair share
    assert second.acquire_leadership()
    mine, theirs = set(first.leases.held), set(second.leases.held)
    assert len(mine) == len(theirs) == PARTITIONS // 2 and not mine & theirs
    first.leadership.release()  # its session ends (as when its process dies): its member lock is free
    assert second.acquire_leadership()
    assert len(second.leases.held) == PARTITIONS
    second.leadership.release()


def test_a_relay_of_the_single_leader_code_excludes_the_shards_and_its_position_is_taken_over(
        database_url, kafka_bootstrap):
    """A rolling update: the relay before held ``baoxue-relay:<service>`` exclusively and stored one row (position,
    chain, cluster); the new replicas hold that lock shared, so neither publishes beside the other, and their first
    start turns the row into one position per partition."""
    h = Harness(database_url, kafka_bootstrap, partitions=PARTITIONS)
    h.enrol(5)
    relay = h.relay()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    ensure_topics(admin, [h.topic], PARTITIONS)  # the old relay had published there (a missing topic is refilled)
    cluster = admin.list_topics(timeout=5).cluster_id
    with psycopg.connect(database_url, autocommit=True) as old:
        old.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"baoxue-relay:{h.schema}",))
        assert not relay.acquire_leadership(), "an old leader runs: the shards wait"
    chain = {"1": 2, "4": 3}
    with h.db.transaction() as conn:
        conn.execute("INSERT INTO relay_position (topic, position, cluster_id, chain, partitions) VALUES "
                     "(%s, 3, %s, %s, %s)", (h.topic, cluster, json.dumps(chain), json.dumps([[0, PARTITIONS]])))
    assert relay.acquire_leadership()
    state = relay.load_state()
    assert state.positions == {p: 3 for p in range(PARTITIONS)} and state.chain == {1: 2, 4: 3}
    assert state.cluster_id == cluster, "the same broker: nothing refilled"
    held = relay.check_broker()
    while held.position < h.store.recorder.max_notification_id():
        held = relay.publish_batch(held)
    relay.settle(drain=True)
    messages = read_all(kafka_bootstrap, h.topic, PARTITIONS, timeout=2)
    assert sorted(int(dict(m.headers())["ce_sequence"]) for m in messages) == list(
        range(4, h.store.recorder.max_notification_id() + 1)), "published from the stored position on"
    for m in messages:  # each partition's chain continues from the stored one
        headers = dict(m.headers())
        first_here = min(int(dict(x.headers())["ce_sequence"]) for x in messages if x.partition() == m.partition())
        if int(headers["ce_sequence"]) == first_here:
            assert int(headers["ce_partitionprev"]) == chain.get(str(m.partition()), 0)
    relay.leadership.release()
