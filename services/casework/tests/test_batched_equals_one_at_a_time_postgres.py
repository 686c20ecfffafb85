"""The consumer's batch path has the effects of applying its messages one at a time: the same messages through
``EventSink.apply`` (one transaction each) and through ``EventSink.apply_batch`` (a unit of work per poll, its
aggregates prefetched in one query, its events inserted in one statement) leave the same events, aggregate by
aggregate and version by version, the same placement rows (the lookup table written in the events' transaction)
and the same positions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import pytest

from contracts.events.attendance import AttendanceResumedV1, SuspectedDropoutRetractedV1
from contracts.events.registry import (
    DisabledChildPlacedV1,
    OutOfSchoolChildIdentifiedV1,
    OutOfSchoolChildRetractedV1,
    StudentAdmittedV1,
    StudentEnrolledV1,
    StudentRegistrationClosedV1,
    StudentTransferredInV1,
    TransferLostRetractedV1,
    TransferLostV1,
)
from services.casework.application import CaseworkApp
from services.casework.application.audit import verify_store
from psycopg import sql

from services.casework.domain import Placement
from services.casework.entrypoints.consumers import policies
from services.casework.tests.stories import detection, unique_county
from services.runtime.consumer import EventSink, Message
from services.runtime.eventstore import build_application
from services.runtime.testing import message

pytestmark = pytest.mark.integration

REGISTRY, ATTENDANCE = "casework:baoxue.registry.v1:0", "casework:baoxue.attendance.v1:0"
AT = datetime(2025, 9, 10, 9, 30, tzinfo=UTC)


@pytest.fixture
def stores(casework_settings):
    """Three casework stores of their own (fresh schemas): one at a time, small batches, one batch of all."""
    opened = [build_application(CaseworkApp, casework_settings, f"casework_eq_{uuid.uuid4().hex[:10]}")
              for _ in range(3)]
    yield opened
    for app in opened:
        app.close()


def story(township: str) -> list[tuple[str, Message]]:
    """Onboarding and what follows it: enrolments (some redelivered, some stale), moves, a leaver, detections
    (one repeated, one of a child the registry never placed), a return, retractions and registry findings."""
    county = township[:6]
    s = [str(uuid.uuid4()) for _ in range(7)]
    seq = {REGISTRY: 0, ATTENDANCE: 0}

    def at(track: str, payload: Any, version: int = 1) -> tuple[str, Message]:
        seq[track] += 1
        return track, message(payload, subject=getattr(payload, "student_id", None), sequence=seq[track],
                              time=AT, aggregateversion=version)

    def enrolled(student: str, class_name: str = "四（2）班", teacher: str | None = "ht-1") -> StudentEnrolledV1:
        return StudentEnrolledV1(student_id=student, school_id="school-1", county_code=county, township_code=township,
                                 grade=4, class_name=class_name, name_masked="李*四", id_number_masked="5201**5678",
                                 head_teacher_id=teacher, head_teacher_name="吴老师" if teacher else None)

    first, again = detection(s[0], township, school_id="school-1"), detection(s[6], township)
    retracted = detection(s[1], township, school_id="school-1")
    census = OutOfSchoolChildIdentifiedV1(finding_id=str(uuid.uuid4()), student_id=s[4], township_code=township,
                                          reason_code="no_registration", episode="2025", name_masked="张*三",
                                          id_number_masked="5201**1234", special_groups=["left_behind"])
    lost = TransferLostV1(finding_id=str(uuid.uuid4()), student_id=s[5], school_id="school-1", township_code=township,
                          reason_code="not_transferred_in", transferred_out_on=date(2025, 6, 30), days=60)
    return [
        *(at(REGISTRY, enrolled(student, teacher=f"ht-{n}")) for n, student in enumerate(s[:6])),
        at(REGISTRY, enrolled(s[1], teacher="ht-1")),  # redelivered: the same facts change nothing
        at(ATTENDANCE, first),
        at(REGISTRY, StudentTransferredInV1(student_id=s[2], school_id="school-2", county_code=county,
                                            township_code=township, grade=4, class_name="四（1）班",
                                            on=date(2025, 9, 1)), 2),
        at(REGISTRY, enrolled(s[2], class_name="旧班"), 1),  # stale: older than the transfer
        at(ATTENDANCE, first),  # the same detection again: nothing new
        at(ATTENDANCE, retracted),
        at(REGISTRY, StudentRegistrationClosedV1(student_id=s[3], school_id="school-1", township_code=township,
                                                 on=date(2025, 9, 5), reason="moved_away", source="police"), 2),
        at(ATTENDANCE, AttendanceResumedV1(student_id=s[0], school_id="school-1", township_code=township,
                                           day=date(2025, 9, 15), detection_id=first.detection_id)),
        at(ATTENDANCE, SuspectedDropoutRetractedV1(detection_id=retracted.detection_id, student_id=s[1],
                                                   school_id="school-1", township_code=township,
                                                   reason="absence corrected", corrected_day=date(2025, 9, 8))),
        at(REGISTRY, census),
        at(REGISTRY, OutOfSchoolChildRetractedV1(finding_id=census.finding_id, student_id=s[4], township_code=township,
                                                 reason_code="registered"), 2),
        at(REGISTRY, lost),
        at(REGISTRY, TransferLostRetractedV1(finding_id=lost.finding_id, student_id=s[5], township_code=township,
                                             reason_code="transferred_in"), 2),
        at(REGISTRY, StudentAdmittedV1(student_id=s[5], school_id="school-3", county_code=county,
                                       township_code=township, grade=7, class_name="七（3）班",
                                       on=date(2025, 9, 1)), 3),
        at(REGISTRY, DisabledChildPlacedV1(student_id=s[5], school_id="school-3", township_code=township,
                                           placement="regular_class", on=date(2025, 9, 2)), 4),
        at(ATTENDANCE, again),  # a child the registry never placed: a case without a head teacher
    ]


def recorded(app: CaseworkApp) -> dict[uuid.UUID, list[tuple[int, str, dict[str, Any]]]]:
    """Every stored event of the store, by aggregate: version, type and state, less what the wall clock decides: the
    timestamp and the case's seal over it (``meta["chain"]``; each store's chains are verified instead)."""
    found: dict[uuid.UUID, list[tuple[int, str, dict[str, Any]]]] = {}
    for stored in app.recorder.select_notifications(start=1, limit=100_000):
        event = app.mapper.to_domain_event(stored)
        state = {k: v for k, v in event.__dict__.items() if k != "timestamp"}
        state["meta"] = {k: v for k, v in state["meta"].items() if k != "chain"}
        found.setdefault(event.originator_id, []).append(
            (event.originator_version, type(event).__qualname__, state))
    return found


def placements(app: CaseworkApp) -> dict[str, Placement]:
    """Every row of the store's placement table."""
    with app.recorder.datastore.get_connection() as conn:
        keys = [r["student_id"] for r in conn.execute(
            sql.SQL("SELECT student_id FROM {}").format(app.placements.qualified())).fetchall()]
        return {key: row for key, (row, _version) in app.placements.select(conn, keys).items()}


def test_a_batched_poll_leaves_the_events_and_positions_of_one_message_at_a_time(stores):
    township = unique_county() + "001"
    messages = story(township)
    one, small, whole = stores
    for track, msg in messages:
        assert EventSink(one).apply(track, msg.envelope.sequence, policies(one)[type(msg.payload)], msg) is True
    for app, size in ((small, 4), (whole, len(messages))):
        bound = policies(app)
        items = [(track, msg.envelope.sequence, bound[type(msg.payload)], msg) for track, msg in messages]
        for start in range(0, len(items), size):
            EventSink(app).apply_batch(items[start:start + size])

    assert all(verify_store(app).intact for app in stores)
    expected = recorded(one)
    assert len(expected) >= 8 and sum(map(len, expected.values())) >= 18  # the story did things
    rows = placements(one)
    assert len(rows) == 6 and sum(not p.active for p in rows.values()) == 1  # six placed, one of them left
    assert not any("StudentPlacement" in kind for events in expected.values() for _, kind, _ in events)
    for app in (small, whole):
        got = recorded(app)
        assert got.keys() == expected.keys()
        for aggregate_id, events in expected.items():
            assert [(v, t) for v, t, _ in got[aggregate_id]] == [(v, t) for v, t, _ in events], aggregate_id
            for (version, kind, state), (_, _, state_got) in zip(events, got[aggregate_id]):
                differ = {k: (state.get(k), state_got.get(k)) for k in state.keys() | state_got.keys()
                          if state.get(k) != state_got.get(k)}
                assert differ == {}, (kind, version)
        assert placements(app) == rows
        for track in (REGISTRY, ATTENDANCE):
            assert app.last_tracked(track) == one.last_tracked(track)
    # and the story's own facts: the transfer kept its school against the stale enrolment, and the row names the
    # registry event that set it
    student, transfer = messages[8][1].payload.student_id, messages[8][1].envelope  # type: ignore[attr-defined]
    assert whole.owners.placement(student).school_id == "school-2"
    assert (rows[student].event_id, rows[student].event_time, rows[student].registry_version) == (
        transfer.id, transfer.time, 2)


def test_the_bound_policies_share_nothing_between_stores(stores):
    """Guard of the comparison above: a partial bound to one store never writes to another."""
    one, other, _ = stores
    assert all(isinstance(p, partial) and p.args[0] is one for p in policies(one).values())
    assert recorded(other) == {}
