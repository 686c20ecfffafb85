"""Stories of cases the registry starts: the census, lost transfers and missed 小升初, their retractions, and the
class head teacher the registry names."""

import uuid
from datetime import date

import pytest

from contracts.events.attendance import AttendanceResumedV1
from contracts.events.casework import CaseClosedV1, CaseOpenedV1
from contracts.events.registry import (
    OutOfSchoolChildIdentifiedV1,
    OutOfSchoolChildRetractedV1,
    StudentEnrolledV1,
    StudentRegistrationClosedV1,
    StudentTransferredInV1,
    TransferLostRetractedV1,
    TransferLostV1,
    TransitionMissedV1,
)
from services.casework.adapters.publishing import facts_from, to_contract
from services.casework.application import CaseworkApp
from services.casework.domain import Case, case_id_for
from services.casework.entrypoints.consumers import policies
from services.casework.tests.builders import MONDAY, acting, deliver, opened_case
from services.casework.tests.stories import detection
from services.runtime.testing import in_memory, message
from services.runtime.tests.reads import record_gets

TOWNSHIP = "520102001"


@pytest.fixture
def app() -> CaseworkApp:
    return in_memory(CaseworkApp)


def census(student_id: str, finding_id: str | None = None) -> OutOfSchoolChildIdentifiedV1:
    """户籍 vs 学籍: a resident child of compulsory age with no registration."""
    return OutOfSchoolChildIdentifiedV1(
        finding_id=finding_id or str(uuid.uuid4()), student_id=student_id, township_code=TOWNSHIP,
        reason_code="no_registration", episode="2025", name_masked="张*三", id_number_masked="5201**********1234",
        special_groups=["left_behind"])


def enrolled(student_id: str, school_id: str = "school-1", head_teacher_id: str | None = "ht-reg",
             head_teacher_name: str | None = "吴老师") -> StudentEnrolledV1:
    """学籍: the registry places a child in a class with its head teacher."""
    return StudentEnrolledV1(
        student_id=student_id, school_id=school_id, county_code="520102", township_code=TOWNSHIP, grade=4,
        class_name="四（2）班", name_masked="李*四", id_number_masked="5201**********5678",
        head_teacher_id=head_teacher_id, head_teacher_name=head_teacher_name)


def case_of(app: CaseworkApp, source: str, trigger_id: str) -> Case:
    return app.queries.case(case_id_for(source, trigger_id))


def published(app: CaseworkApp) -> list:
    facts = facts_from(app)
    found = (to_contract(app.mapper.to_domain_event(n), facts)
             for n in app.recorder.select_notifications(start=1, limit=10_000))
    return [c for c in found if c is not None]


def holders(case: Case) -> dict[str, str]:
    return {slot: o["user_id"] for slot, o in case.owners.items()}


def test_the_census_finds_a_never_enrolled_child_and_a_case_opens_from_the_census(app):
    found = census("child-never-enrolled")
    assert deliver(app, found) is True
    case = case_of(app, "census", found.finding_id)
    assert (case.stage, case.source, case.school_id, case.student_id) == (
        "suspected", "census", None, "child-never-enrolled")
    assert case.evidence["reason_code"] == "no_registration" and case.evidence["episode"] == "2025"
    assert case.meta["actor_id"] == "system:casework" and case.meta["jurisdiction"] == TOWNSHIP
    [opened] = [c for c in published(app) if isinstance(c, CaseOpenedV1)]
    assert (opened.source, opened.trigger_id) == ("census", found.finding_id)


def test_the_same_finding_redelivered_opens_nothing(app):
    found = census("child-redelivered")
    deliver(app, found)
    assert deliver(app, found) is True  # another message with the same finding: applied, with no effect
    assert len(app.queries.cases_for_jurisdiction("520102")) == 1
    assert [h.event for h in app.queries.case_history(case_of(app, "census", found.finding_id).id)] == ["Opened"]


def test_the_finding_retracted_after_the_record_is_corrected_closes_the_unverified_case_with_the_reason(app):
    found = census("child-record-error")
    deliver(app, found)
    deliver(app, OutOfSchoolChildRetractedV1(finding_id=found.finding_id, student_id=found.student_id,
                                             township_code=TOWNSHIP, reason_code="record_error"))
    closed = case_of(app, "census", found.finding_id)
    assert closed.stage == "closed"
    assert closed.closure["reason"] == "trigger_retracted" and closed.closure["source_reason"] == "record_error"
    [proof] = closed.closure["evidence"]
    assert proof["location"].startswith("baoxue.registry.v1/") and len(proof["sha256"]) == 64
    [closing] = [c for c in published(app) if isinstance(c, CaseClosedV1)]
    assert (closing.reason, closing.evidence_count) == ("trigger_retracted", 1)
    # the episode is over: a later census finding about the child opens a new case
    again = census("child-record-error")
    deliver(app, again)
    assert case_of(app, "census", again.finding_id).stage == "suspected"


def test_a_retraction_of_a_finding_whose_case_has_progressed_only_annotates_it(app):
    found = census("child-progressed")
    deliver(app, found)
    case = case_of(app, "census", found.finding_id)
    app.cases.act(case.id, "confirm_dropout", causes=["working_away"], cause_analysis="随父外出打工",
            meta=acting("township_officer", MONDAY))
    deliver(app, OutOfSchoolChildRetractedV1(finding_id=found.finding_id, student_id=found.student_id,
                                             township_code=TOWNSHIP, reason_code="registered"))
    annotated = app.queries.case(case.id)
    assert annotated.stage == "persuading" and annotated.retracted == [found.finding_id]
    [note] = [h for h in app.queries.case_history(case.id) if h.event == "TriggerRetracted"]
    assert note.data["closes"] is False and note.data["reason_code"] == "registered"


def test_a_finding_identified_again_after_its_retraction_opens_a_new_episode(app):
    found = census("child-again")
    deliver(app, found, aggregateversion=1)
    deliver(app, OutOfSchoolChildRetractedV1(finding_id=found.finding_id, student_id=found.student_id,
                                             township_code=TOWNSHIP, reason_code="registered"), aggregateversion=2)
    deliver(app, found, aggregateversion=3)  # the registry re-identified the same finding
    assert deliver(app, found, aggregateversion=3) is True  # and a refill of it changes nothing
    reopened = case_of(app, "census", f"{found.finding_id}:v3")
    assert reopened.stage == "suspected"
    assert len(app.queries.cases_for_jurisdiction("520102")) == 2
    deliver(app, OutOfSchoolChildRetractedV1(finding_id=found.finding_id, student_id=found.student_id,
                                             township_code=TOWNSHIP, reason_code="deceased"), aggregateversion=4)
    assert app.queries.case(reopened.id).closure["source_reason"] == "deceased"


def test_a_transfer_lost_while_an_attendance_case_is_open_attaches_to_it(app):
    case = opened_case(app, student_id="child-transfer")
    lost = TransferLostV1(finding_id=str(uuid.uuid4()), student_id="child-transfer", school_id="school-1",
                          township_code=TOWNSHIP, reason_code="not_received_in_time",
                          transferred_out_on=date(2025, 8, 1), days=30)
    deliver(app, lost)
    joined = app.queries.case(case.id)
    assert joined.trigger_ids == [case.trigger_id, lost.finding_id]
    [attached] = [h for h in app.queries.case_history(case.id) if h.event == "TriggerAttached"]
    assert attached.data["source"] == "transfer" and attached.data["evidence"]["days"] == 30
    assert len(app.queries.cases_for_jurisdiction("520102")) == 1
    # the transfer is found later: the attendance trigger still stands, so the case is only annotated
    deliver(app, TransferLostRetractedV1(finding_id=lost.finding_id, student_id="child-transfer",
                                         township_code=TOWNSHIP, reason_code="transferred_in"))
    assert app.queries.case(case.id).stage == "suspected" and app.queries.case(case.id).retracted == [lost.finding_id]


def test_a_missed_transition_to_junior_school_opens_a_case(app):
    missed = TransitionMissedV1(finding_id=str(uuid.uuid4()), student_id="child-xsc", school_id="primary-1",
                                township_code=TOWNSHIP, reason_code="no_junior_registration",
                                graduated_on=date(2025, 7, 1))
    deliver(app, missed)
    case = case_of(app, "transition", missed.finding_id)
    assert (case.source, case.school_id, case.stage) == ("transition", "primary-1", "suspected")
    assert case.evidence["graduated_on"] == date(2025, 7, 1)


def test_the_head_teacher_the_registry_names_becomes_the_education_line_owner(app):
    app.owners.put_responsibilities(TOWNSHIP, [
        {"slot": "township", "user_id": "twp-lead"},
        {"slot": "school_leader", "school_id": "school-1", "user_id": "vp-1"},
        {"slot": "head_teacher", "school_id": "school-1", "user_id": "ht-any"},
        {"slot": "head_teacher", "student_id": "child-mapped", "user_id": "ht-mapped"},
    ], replace=True, source="csv", meta=acting("township_officer", MONDAY))
    for student in ("child-ht", "child-mapped"):
        deliver(app, enrolled(student))
    case = opened_case(app, student_id="child-ht")
    assert holders(case) == {"township": "twp-lead", "school_leader": "vp-1", "head_teacher": "ht-reg"}
    assert case.owners["head_teacher"]["name"] == "吴老师"
    [assigned] = [h for h in app.queries.case_history(case.id) if h.event == "OwnersAssigned"]
    assert {"slot": "head_teacher", "user_id": "ht-reg", "name": "吴老师", "source": "registry"} in assigned.data[
        "owners"]
    assert holders(opened_case(app, student_id="child-mapped"))["head_teacher"] == "ht-mapped"  # the map's own entry


def test_without_a_map_the_registry_still_names_the_head_teacher(app):
    deliver(app, enrolled("child-nomap"))
    assert holders(opened_case(app, student_id="child-nomap")) == {"head_teacher": "ht-reg"}


def test_a_transfer_in_or_a_closed_registration_ends_the_old_head_teachers_claim(app):
    deliver(app, enrolled("child-moved"), aggregateversion=1)
    deliver(app, StudentTransferredInV1(student_id="child-moved", school_id="school-2", county_code="520102",
                                        township_code=TOWNSHIP, grade=4, class_name="四（1）班",
                                        on=date(2025, 9, 1)), aggregateversion=3)
    deliver(app, enrolled("child-moved"), aggregateversion=1)  # an old event again changes nothing
    placement = app.owners.placement("child-moved")
    assert (placement.school_id, placement.head_teacher_id) == ("school-2", None)
    assert holders(opened_case(app, student_id="child-moved", school_id="school-2")) == {}

    deliver(app, enrolled("child-left"), aggregateversion=1)
    deliver(app, StudentRegistrationClosedV1(student_id="child-left", school_id="school-1", township_code=TOWNSHIP,
                                             on=date(2025, 9, 1), reason="moved_away", source="public_security"),
            aggregateversion=2)
    assert holders(opened_case(app, student_id="child-left")) == {}


def test_each_policy_loads_the_aggregates_it_declares_for_a_batch(app, monkeypatch):
    """What a policy declares (read for a whole batch in one query, ``loads``) is what it loads on its usual path."""
    loaded = record_gets(app, monkeypatch)
    student, absent = str(uuid.uuid4()), str(uuid.uuid4())
    found = census(student)
    detected = detection(absent, TOWNSHIP, school_id="school-1")
    stories = [
        enrolled(student),
        found,
        OutOfSchoolChildRetractedV1(finding_id=found.finding_id, student_id=student, township_code=TOWNSHIP,
                                    reason_code="record_error"),
        detected,
        AttendanceResumedV1(student_id=absent, school_id="school-1", township_code=TOWNSHIP, day=date(2025, 9, 16),
                            detection_id=detected.detection_id),
        StudentRegistrationClosedV1(student_id=student, school_id="school-1", township_code=TOWNSHIP,
                                    on=date(2025, 9, 1), reason="moved_away", source="public_security"),
    ]
    for payload in stories:
        loaded.clear()
        policy = policies(app)[type(payload)]
        declared = set(policy.func.loads(message(payload, time=MONDAY)))
        assert deliver(app, payload) is True
        assert declared and declared <= set(loaded), type(payload).__name__
