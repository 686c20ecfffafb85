"""The consumer's fast path: the envelope read from headers equals what the cloudevents binding decodes, the payload
parsed by pydantic's JSON parser equals the dict route, unreadable messages are told apart as before, lag comes
from the client's cached watermarks, and positions and offset hints are written in one statement per poll."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from pydantic import ValidationError

from contracts import Envelope
from contracts.events.registry import StudentEnrolledV1
from services.runtime.consumer import ProjectionSink
from services.runtime.consumer_messages import envelope_of, peek
from services.runtime.consumer_offsets import OffsetHints, report_lag
from services.runtime.db import Database
from services.runtime.kafka import decode, ensure_topics, message_headers
from services.runtime.metrics import Metrics

ENROLMENT = StudentEnrolledV1(
    student_id="stu-1", school_id="sch-1", county_code="520102", township_code="520102001", grade=3,
    class_name="3-1", name_masked="张*", id_number_masked="5201**********123X", head_teacher_id="ht-1")


def _headers(when: Any = datetime(2026, 9, 1, 0, 30, 1, 250, tzinfo=timezone.utc), causation: str | None = "c0"):
    return message_headers("e1", "/baoxue/registry", StudentEnrolledV1.ce_type(), "stu-1", when, 1, 42, 40,
                           "u1", "system", "520102", "corr-1", causation)


@pytest.mark.parametrize("when", [datetime(2026, 9, 1, 0, 30, 1, 250, tzinfo=timezone.utc),
                                  "2026-09-01T08:00:00+08:00", "2026-09-01T00:00:00Z"])
@pytest.mark.parametrize("causation", ["c0", None])
def test_the_envelope_from_headers_is_the_one_the_cloudevents_binding_decodes(when: Any, causation: str | None) -> None:
    headers = _headers(when, causation)
    value = ENROLMENT.model_dump_json().encode()
    envelope, data = decode(headers, b"stu-1", value)
    assert envelope_of(dict(headers)) == envelope
    assert StudentEnrolledV1.model_validate_json(value) == StudentEnrolledV1.model_validate(data) == ENROLMENT


def _from_text(headers: dict[str, bytes]) -> Envelope:
    """The envelope validated from the headers' decoded text (what ``envelope_of`` did before it gave pydantic the
    bytes)."""
    return Envelope.model_validate({k[3:]: v.decode() for k, v in headers.items()
                                    if k.startswith("ce_") and k[3:] in Envelope.model_fields})


@pytest.mark.parametrize("when", [datetime(2026, 9, 1, 0, 30, 1, 250, tzinfo=timezone.utc),
                                  "2026-09-01T08:00:00+08:00", "2026-09-01T00:00:00Z", "2026-09-01T00:00:00.5+05:45"])
@pytest.mark.parametrize("causation", ["c0", None])
def test_the_envelope_from_header_bytes_equals_the_one_from_their_text(when: Any, causation: str | None) -> None:
    headers = dict(_headers(when, causation))
    assert envelope_of(headers) == _from_text(headers)
    assert repr(envelope_of(headers)) == repr(_from_text(headers))


def test_headers_that_are_not_an_envelope_are_refused_as_the_binding_refuses_them() -> None:
    headers = dict(_headers())
    for broken in ({**headers, "ce_sequence": b"forty-two"}, {**headers, "ce_time": b"yesterday"}):
        with pytest.raises(ValueError):
            envelope_of(broken)
        with pytest.raises(Exception):
            decode(list(broken.items()), b"stu-1", b"{}")
    for odd in (b" 42 ", b"42.0", b"4_2"):  # read from the header's bytes as from its decoded text
        assert envelope_of({**headers, "ce_sequence": odd}) == _from_text({**headers, "ce_sequence": odd})
    for unreadable in ({**headers, "ce_id": b"\xff\xfe"}, {**headers, "ce_subject": None}):  # not UTF-8, no value
        with pytest.raises(ValueError):
            envelope_of(unreadable)
    with pytest.raises(ValueError):  # the relay writes 1.0 only (the binding would also read 0.3)
        envelope_of({**headers, "ce_specversion": b"0.3"})
    without_id = {k: v for k, v in headers.items() if k != "ce_id"}
    assert decode(list(without_id.items()), b"stu-1", b"{}")[0].id  # the binding invents a random id ...
    with pytest.raises(ValueError):  # ... which would defeat every idempotence check keyed by it: refused
        envelope_of(without_id)
    assert peek(without_id) is None
    assert peek({}) is None and peek([("oops", b"1")]) is None
    assert peek({**headers, "ce_type": None}) is None  # a header without a value: unreadable, not a crash
    assert peek(headers) == peek(list(headers.items()))


def test_a_payload_that_is_not_json_or_breaks_its_contract_is_a_validation_error() -> None:
    for value in (b"not json", b"", b'{"student_id": 5}', ENROLMENT.model_dump_json().encode()[:-1]):
        with pytest.raises(ValidationError):
            StudentEnrolledV1.model_validate_json(value)


def test_lag_is_read_from_the_watermarks_the_fetches_brought(kafka_bootstrap: str) -> None:
    topic = f"lag.{uuid.uuid4().hex[:8]}"
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), [topic], 2)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(30):
        producer.produce(topic, key=str(i).encode(), value=b"x", partition=i % 2)
    producer.flush(10)
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"g-{topic}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING), TopicPartition(topic, 1, OFFSET_BEGINNING)])
    metrics = Metrics("test")
    try:
        per_partition = {0: 0, 1: 0}
        deadline = time.monotonic() + 20
        while sum(per_partition.values()) < 10 and time.monotonic() < deadline:  # 10 of the 30
            for m in consumer.consume(10 - sum(per_partition.values()), timeout=0.5):
                if not m.error():
                    per_partition[m.partition()] += 1
        assert sum(per_partition.values()) == 10
        report_lag(consumer, metrics, "test", "c")
        lag = {p: metrics.consumer_lag.labels("test", "c", topic, str(p))._value.get() for p in (0, 1)}
        for p, n in per_partition.items():
            if n:  # a partition that delivered: its fetches brought its watermark, 15 messages each
                assert lag[p] == 15 - n, (lag, per_partition)
            else:  # one not fetched yet shows nothing, or everything once its watermark came
                assert lag[p] in (0, 15), (lag, per_partition)
        deadline = time.monotonic() + 20
        while sum(per_partition.values()) < 30 and time.monotonic() < deadline:
            for m in consumer.consume(30 - sum(per_partition.values()), timeout=0.5):
                if not m.error():
                    per_partition[m.partition()] += 1
        report_lag(consumer, metrics, "test", "c")
        assert [metrics.consumer_lag.labels("test", "c", topic, str(p))._value.get() for p in (0, 1)] == [0, 0]
    finally:
        consumer.close()


def test_positions_and_offset_hints_of_every_partition_are_one_statement(database_url: str) -> None:
    db = Database(database_url, f"fast_{uuid.uuid4().hex[:8]}")
    sink = ProjectionSink(db, "c")
    statements: list[str] = []
    real = db.transaction

    class Spy:
        def __init__(self, conn: Any) -> None:
            self.conn = conn

        def execute(self, query: Any, params: Any = None) -> Any:
            statements.append(str(query))
            return self.conn.execute(query, params)

    from contextlib import contextmanager

    @contextmanager
    def spied():
        with real() as conn:
            yield Spy(conn)

    db.transaction = spied  # type: ignore[method-assign]
    sink.skip_many([(f"c:t:{p}", 10 + p) for p in range(24)] + [("c:t:0", 5)])  # a lower one never moves it back
    assert len(statements) == 1
    db.transaction = real  # type: ignore[method-assign]
    assert [sink.last_applied(f"c:t:{p}") for p in (0, 1, 23)] == [10, 11, 33]
    sink.skip_many([("c:t:0", 7), ("c:t:1", 12)])
    assert [sink.last_applied(f"c:t:{p}") for p in (0, 1)] == [10, 12]

    hints = OffsetHints(db, "c")
    statements.clear()
    db.transaction = spied  # type: ignore[method-assign]
    hints.save({("t", p): 100 + p for p in range(24)}, "cluster-a")
    assert len(statements) == 1
    db.transaction = real  # type: ignore[method-assign]
    hints.save({("t", 0): 7}, "cluster-a")
    loaded = hints.load("cluster-a")
    assert loaded[("t", 0)] == 7 and loaded[("t", 23)] == 123 and hints.load("cluster-b") == {}
    db.close()
