"""``inbox.event_of`` fills a new Event's fields at once instead of through the frozen dataclass's ``__init__``: the
Event is equal (fields, repr, hash) to the one the constructor makes, and still frozen."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from contracts.events.registry import StudentEnrolledV1
from services.reporting.adapters.inbox import Event, event_of
from services.runtime.kafka import partition_for
from services.runtime.testing import message


def test_event_of_equals_the_constructed_event_and_stays_frozen() -> None:
    m = message(StudentEnrolledV1(student_id="s-1", school_id="k-1", county_code="520102", township_code="520102001",
                                  grade=3, class_name="3(1)班", name_masked="张*", id_number_masked="5201********0001"),
                subject="s-1", sequence=42, time=datetime(2026, 9, 1, 0, 0, 1, 5, tzinfo=timezone.utc))
    e = m.envelope
    expected = Event(topic=m.payload.topic, partition=partition_for("s-1", 24), sequence=42, event_id=e.id,
                     type=e.type, subject="s-1", time=e.time, actor_role=e.actorrole, payload=m.payload)
    got = event_of(m, 24)
    assert type(got) is Event
    assert got == expected and repr(got) == repr(expected) and hash(got) == hash(expected)
    assert dataclasses.asdict(got) == dataclasses.asdict(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.sequence = 43  # type: ignore[misc]


def test_json_of_is_model_dump_json_for_every_envelope_and_payload_of_a_history() -> None:
    from bench.reporting import synthetic
    from services.reporting.adapters.inbox import json_of

    seen: set[type] = set()
    for n, g in enumerate(synthetic.history(seed=5, prefectures=1, counties=1, townships=2, schools=2, students=10)):
        m = message(g.payload, subject=g.subject, sequence=n + 1, time=g.time)
        assert json_of(m.payload) == m.payload.model_dump_json()
        assert json_of(m.envelope) == m.envelope.model_dump_json()
        seen.add(type(g.payload))
    assert len(seen) >= 10  # many contracts, their dates, times, lists and nested models
