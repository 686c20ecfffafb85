"""The same stories against PostgreSQL: effects and consumer positions commit together."""

import uuid
from datetime import date

import pytest
from eventsourcing.persistence import IntegrityError

from contracts.events import SuspectedDropoutDetectedV1
from contracts.events.registry import StudentEnrolledV1, TransferLostRetractedV1, TransferLostV1
from services.casework.entrypoints.consumers import policies
from services.casework.tests.stories import DETECTED_AT, TRACK, detection, unique_county
from services.runtime.consumer import EventSink
from services.runtime.testing import message
from services.runtime.tests.reads import count_reads

pytestmark = pytest.mark.integration


def deliver(app, msg, track: str = TRACK) -> bool:
    return EventSink(app).apply(track, msg.envelope.sequence, policies(app)[SuspectedDropoutDetectedV1], msg)


def test_a_message_delivered_twice_opens_one_case_and_its_evidence_survives_storage(pg_app):
    township = unique_county() + "001"
    track = f"casework:{uuid.uuid4()}:0"
    msg = message(detection(township_code=township), sequence=7, time=DETECTED_AT)
    assert deliver(pg_app, msg, track) is True
    assert deliver(pg_app, msg, track) is False
    assert pg_app.last_tracked(track) == 7
    [summary] = pg_app.queries.cases_for_jurisdiction(township)
    case = pg_app.queries.case(uuid.UUID(summary.case_id))
    assert case.opened_at == DETECTED_AT
    assert case.evidence["absent_days"] == msg.payload.absent_days
    assert summary.opened_at == DETECTED_AT


def test_the_same_detection_in_a_later_message_opens_nothing_new(pg_app):
    township = unique_county() + "001"
    detected = detection(township_code=township)
    track = f"casework:{uuid.uuid4()}:0"
    assert deliver(pg_app, message(detected, sequence=1), track) is True
    assert deliver(pg_app, message(detected, sequence=2), track) is True
    assert len(pg_app.queries.cases_for_jurisdiction(township)) == 1
    assert pg_app.last_tracked(track) == 2


def test_two_processes_racing_on_one_child_still_open_one_case(pg_app, pg_app_factory):
    township = unique_county() + "001"
    student = str(uuid.uuid4())
    other = pg_app_factory()
    first, second = message(detection(student, township), sequence=1), message(detection(student, township), sequence=1)
    policy = policies(pg_app)[SuspectedDropoutDetectedV1]
    racing = policies(other)[SuspectedDropoutDetectedV1](second)  # read before the first commits
    assert EventSink(pg_app).apply(f"casework:{uuid.uuid4()}:0", 1, policy, first) is True
    with pytest.raises(IntegrityError):  # the consumer loop retries this (a retryable error)
        other.save_tracked(*racing, tracking=None)
    assert deliver(other, second, f"casework:{uuid.uuid4()}:0") is True
    [summary] = pg_app.queries.cases_for_jurisdiction(township)
    assert pg_app.queries.case(uuid.UUID(summary.case_id)).trigger_ids == [first.payload.detection_id, second.payload.detection_id]


def test_the_case_index_rebuilt_from_events_gives_the_same_list(pg_app):
    county = unique_county()
    for n in range(3):
        deliver(pg_app, message(detection(township_code=f"{county}00{n + 1}")), f"casework:{uuid.uuid4()}:0")
    before = pg_app.queries.cases_for_jurisdiction(county)
    pg_app.index.drop()
    assert pg_app.queries.cases_for_jurisdiction(county) == before
    assert len(before) == 3


def test_registry_findings_and_placements_commit_with_the_consumers_position(pg_app):
    township = unique_county() + "001"
    student = str(uuid.uuid4())
    track = f"casework:baoxue.registry.v1:{uuid.uuid4()}"

    def apply(payload, sequence: int) -> bool:
        return EventSink(pg_app).apply(track, sequence, policies(pg_app)[type(payload)],
                                       message(payload, sequence=sequence, time=DETECTED_AT))

    assert apply(StudentEnrolledV1(student_id=student, school_id="school-9", county_code=township[:6],
                                   township_code=township, grade=5, class_name="五（1）班", name_masked="王*",
                                   id_number_masked="52**", head_teacher_id="ht-9", head_teacher_name="孙老师"), 1)
    lost = TransferLostV1(finding_id=str(uuid.uuid4()), student_id=student, school_id="school-9",
                          township_code=township, reason_code="not_received_in_time",
                          transferred_out_on=date(2025, 8, 1), days=30)
    assert apply(lost, 2) is True
    assert apply(lost, 2) is False  # the same message again
    [summary] = pg_app.queries.cases_for_jurisdiction(township)
    case = pg_app.queries.case(uuid.UUID(summary.case_id))
    assert case.source == "transfer" and case.evidence["transferred_out_on"] == date(2025, 8, 1)
    assert case.owners["head_teacher"]["user_id"] == "ht-9"
    assert apply(TransferLostRetractedV1(finding_id=lost.finding_id, student_id=student, township_code=township,
                                         reason_code="record_error"), 3) is True
    closed = pg_app.queries.case(case.id)
    assert closed.stage == "closed" and closed.closure["source_reason"] == "record_error"
    assert pg_app.last_tracked(track) == 3


def test_a_batch_reads_the_aggregates_its_policies_declare_in_one_query(pg_app, monkeypatch):
    township = unique_county() + "001"
    students = [str(uuid.uuid4()) for _ in range(20)]
    registry, attendance = f"casework:baoxue.registry.v1:{uuid.uuid4()}", f"casework:{uuid.uuid4()}:0"
    enrolments = [StudentEnrolledV1(student_id=s, school_id="school-9", county_code=township[:6],
                                    township_code=township, grade=5, class_name="五（1）班", name_masked="王*",
                                    id_number_masked="52**", head_teacher_id=f"ht-{n}", head_teacher_name="孙老师")
                  for n, s in enumerate(students)]
    detected = detection(students[3], township, school_id="school-9")
    items = [(registry, n + 1, policies(pg_app)[StudentEnrolledV1], message(e, sequence=n + 1, time=DETECTED_AT))
             for n, e in enumerate(enrolments)]
    items.append((attendance, 1, policies(pg_app)[SuspectedDropoutDetectedV1],
                  message(detected, sequence=1, time=DETECTED_AT)))
    reads = count_reads(pg_app, monkeypatch)
    EventSink(pg_app).apply_batch(items)
    # the child's case file and the detection's case in one query, the placement rows in one; read alone: only the
    # township's responsibility map, which no policy declares
    assert reads == {"one": 1, "many": 1, "rows": 1}
    assert [pg_app.owners.placement(s).head_teacher_id for s in students] == [f"ht-{n}" for n in range(20)]
    case = pg_app.queries.case(pg_app.queries.case_id_for_detection(detected.detection_id))
    assert case.owners["head_teacher"]["user_id"] == "ht-3"  # the placement the same batch recorded
    assert pg_app.last_tracked(registry) == 20 and pg_app.last_tracked(attendance) == 1


def test_registry_and_attendance_events_with_odd_free_text_are_applied_and_listed(pg_app):
    """Odd values the publishers' contracts accept (separators, quotes, backslashes, long strings) never break apply."""
    from services.runtime.testing import odd_variant

    township = unique_county() + "001"
    student = str(uuid.uuid4())
    track = f"casework:baoxue.registry.v1:{uuid.uuid4()}"

    def apply(payload, sequence: int) -> bool:
        return EventSink(pg_app).apply(track, sequence, policies(pg_app)[type(payload)],
                                       message(payload, sequence=sequence, time=DETECTED_AT))

    assert apply(odd_variant(StudentEnrolledV1(
        student_id=student, school_id="school-9", county_code=township[:6], township_code=township, grade=5,
        class_name="五（1）班", name_masked="王*", id_number_masked="52**", head_teacher_id="ht;9'\"\\",
        head_teacher_name="孙老师"), 0), 1)
    assert apply(odd_variant(TransferLostV1(
        finding_id=str(uuid.uuid4()), student_id=student, school_id="school-9", township_code=township,
        reason_code="not_received_in_time", transferred_out_on=date(2025, 8, 1), days=30), 3), 2)
    [summary] = pg_app.queries.cases_for_jurisdiction(township)
    assert pg_app.queries.case(uuid.UUID(summary.case_id)).owners["head_teacher"]["user_id"] == "ht;9'\"\\"


def test_a_placement_from_before_the_table_is_read_until_the_registry_changes_it(pg_app):
    """A store from before ``student_placements`` holds ``StudentPlacement`` aggregates: they still name the head
    teacher, and the next registry event writes the table from them."""
    from contracts.events.registry import StudentRegistrationClosedV1
    from services.casework.domain import StudentPlacement

    township = unique_county() + "001"
    student, meta = str(uuid.uuid4()), {"actor_id": "casework", "at": DETECTED_AT.isoformat()}
    pg_app.save(StudentPlacement(student_id=student, school_id="school-9", township_code=township, grade=5,
                                 class_name="五（1）班", head_teacher_id="ht-old", head_teacher_name="孙老师",
                                 registry_version=1, meta=meta))
    assert pg_app.owners.placement(student).head_teacher_for("school-9") == {"user_id": "ht-old", "name": "孙老师"}
    track = f"casework:baoxue.registry.v1:{uuid.uuid4()}"
    stale = StudentEnrolledV1(student_id=student, school_id="school-0", county_code=township[:6],
                              township_code=township, grade=5, class_name="旧班", name_masked="王*",
                              id_number_masked="52**", head_teacher_id="ht-0", head_teacher_name="赵老师")
    closed = StudentRegistrationClosedV1(student_id=student, school_id="school-9", township_code=township,
                                         on=date(2025, 9, 5), reason="moved_away", source="police")
    EventSink(pg_app).apply_batch([
        (track, 1, policies(pg_app)[type(stale)], message(stale, sequence=1, time=DETECTED_AT, aggregateversion=1)),
        (track, 2, policies(pg_app)[type(closed)], message(closed, sequence=2, time=DETECTED_AT, aggregateversion=2)),
    ])
    row = pg_app.placements.get(student)
    assert (row.school_id, row.head_teacher_id, row.active, row.registry_version) == ("school-9", "ht-old", False, 2)
    assert row.event_time == DETECTED_AT and pg_app.owners.placement(student).head_teacher_for("school-9") is None
