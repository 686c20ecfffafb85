"""With replicas, a partition's lag is reported by the replica that holds it: a replica that gives up a lease removes
that partition's lag sample (a stale one stayed for ever, and the onboarding bench waiting for lag 0 never ended)."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka.admin import AdminClient

from services.runtime.consumer import LEASES_DDL
from services.runtime.consumer_offsets import forget_lag, lag_reported, report_lag
from services.runtime.db import Database
from services.runtime.kafka import ensure_topics
from services.runtime.metrics import Metrics
from services.runtime.tests.replicas import EFFECTS_DDL, Stream, loop

pytestmark = pytest.mark.integration
PARTITIONS = 4


def test_forget_lag_removes_only_the_named_partitions_of_that_consumer():
    metrics = Metrics("test")
    for name in ("a", "b"):
        for p in range(3):
            metrics.consumer_lag.labels("test", name, "t", str(p)).set(7)
    forget_lag(metrics, "test", "a", [("t", 0), ("t", 2), ("t", 9)])  # one never reported: no error
    assert lag_reported(metrics, "test", "a") == {("t", 1)}
    assert lag_reported(metrics, "test", "b") == {("t", 0), ("t", 1), ("t", 2)}


def test_report_lag_drops_samples_of_partitions_no_longer_assigned():
    class Client:  # the two calls report_lag makes of a confluent-kafka consumer
        def __init__(self, assigned):
            self.assigned = assigned

        def assignment(self):
            return self.assigned

        def position(self, tps):
            return tps

        def get_watermark_offsets(self, tp, cached=True):
            return 0, tp.offset + 5

    from confluent_kafka import TopicPartition

    metrics = Metrics("test")
    report_lag(Client([TopicPartition("t", 0, 10), TopicPartition("t", 1, 10)]), metrics, "test", "c")
    assert lag_reported(metrics, "test", "c") == {("t", 0), ("t", 1)}
    report_lag(Client([TopicPartition("t", 1, 10)]), metrics, "test", "c")  # partition 0 went elsewhere
    assert lag_reported(metrics, "test", "c") == {("t", 1)}
    assert metrics.consumer_lag.labels("test", "c", "t", "1")._value.get() == 5


def test_a_replica_that_gives_up_leases_to_a_new_member_removes_their_lag(database_url, kafka_bootstrap):
    suffix = uuid.uuid4().hex[:8]
    schema, topic = f"lagrelease_{suffix}", f"test.lagrelease.{suffix}"
    db = Database(database_url, schema)
    db.execute_script(EFFECTS_DDL + LEASES_DDL)
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), [topic], PARTITIONS)
    Stream(kafka_bootstrap, topic).produce(40, PARTITIONS)
    a = loop(database_url, schema, kafka_bootstrap, topic, PARTITIONS, "a", lease_s=60.0)
    b = loop(database_url, schema, kafka_bootstrap, topic, PARTITIONS, "b", lease_s=60.0)
    everything = {(topic, p) for p in range(PARTITIONS)}
    try:
        a.start()  # the only member: it holds every partition
        deadline = time.monotonic() + 60
        while lag_reported(a.metrics, "test", "replicated") != everything:  # every partition fetched once
            assert time.monotonic() < deadline, lag_reported(a.metrics, "test", "replicated")
            a.poll_once(lambda: False)
            a.update_lag()
        b.start()  # joins: the fair share is now 2, but a holds them all until its next heartbeat
        assert not b.assigned
        a.rebalance()  # a releases what it holds beyond its share ...
        kept = set(a.assigned)
        assert len(kept) == PARTITIONS // 2
        assert lag_reported(a.metrics, "test", "replicated") == kept  # ... and no longer reports their lag
        b.rebalance()
        assert set(b.assigned) == everything - kept
        deadline = time.monotonic() + 60
        while lag_reported(b.metrics, "test", "replicated") != everything - kept:
            assert time.monotonic() < deadline, lag_reported(b.metrics, "test", "replicated")
            b.poll_once(lambda: False)
            b.update_lag()
        a.update_lag()
        assert lag_reported(a.metrics, "test", "replicated") == kept
    finally:
        for member in (a, b):
            member.close_consumer()
            member.leases.release_all()
        with db.transaction() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        db.close()
