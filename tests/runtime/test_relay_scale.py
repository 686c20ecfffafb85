"""Relays on several replicas and topics that grow, on real PostgreSQL and a Kafka-protocol broker: a standby
takes over within seconds of the leader's death, and every aggregate stays in one partition while the partition
count grows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from collections import defaultdict
from pathlib import Path

import pytest

from services.runtime.kafka import PARTITIONS_HEADER, partition_for
from services.runtime.relay import Relay
from tests.runtime.test_relay_consumer import Harness, id_number, published_through, read_all

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_a_standby_relay_takes_over_within_seconds_when_the_leader_process_is_killed(database_url, kafka_bootstrap):
    h = Harness(database_url, kafka_bootstrap)
    h.enrol(1)
    leader = subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.relay_process", database_url, kafka_bootstrap, h.schema, h.topic, "3"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        standby = h.relay(safety_poll_s=0.5)
        assert standby.standby_poll_s == 1.0  # the default
        assert published_through(standby, h.app.store.recorder.max_notification_id(), timeout=60), "the leader published"
        h.start(standby)
        time.sleep(1)
        assert not standby.leadership.leading
        os.kill(leader.pid, signal.SIGKILL)  # no goodbye: the socket closes with the process
        leader.wait(10)
        killed = time.monotonic()
        before = h.app.store.recorder.max_notification_id()
        h.app.registration.register_school(code="S2", name="二小", level="primary", county_code="520102",
                              township_code="520102001", meta={})  # a new event only the standby can publish
        assert h.app.store.recorder.max_notification_id() > before
        assert published_through(standby, h.app.store.recorder.max_notification_id(), timeout=30)
        took_over = time.monotonic() - killed
        print(f"takeover after SIGKILL: {took_over:.2f} s")
        assert took_over < 5
        assert len(read_all(kafka_bootstrap, h.topic, 3, timeout=5)) == h.app.store.recorder.max_notification_id()
    finally:
        if leader.poll() is None:
            leader.kill()
        h.stop_all()


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
