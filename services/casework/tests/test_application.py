"""Casework use cases in memory: suspected dropouts become cases exactly once."""

import uuid

import pytest

from contracts.events import CaseOpenedV1, SuspectedDropoutDetectedV1
from services.casework.adapters.publishing import to_contract
from services.casework.application import CaseworkApp
from services.casework.domain import Case, ChildCases, Conflict, NotFound
from services.casework.entrypoints.consumers import policies
from services.casework.tests.stories import DETECTED_AT, TRACK, detection
from services.runtime.consumer import EventSink
from services.runtime.testing import in_memory, message


@pytest.fixture
def app() -> CaseworkApp:
    return in_memory(CaseworkApp)


def deliver(app: CaseworkApp, msg) -> bool:
    """The consumer loop's effect for one message: the policy's aggregates saved with the position."""
    return EventSink(app).apply(TRACK, msg.envelope.sequence, policies(app)[SuspectedDropoutDetectedV1], msg)


def stored_case_events(app: CaseworkApp) -> list:
    return [
        app.mapper.to_domain_event(n)
        for n in app.recorder.select_notifications(start=1, limit=1000)
        if n.topic.endswith("Case.Opened")
    ]


def test_a_suspected_dropout_opens_one_case_recorded_by_casework_for_the_township(app):
    msg = message(detection(township_code="520102001"), time=DETECTED_AT)
    assert deliver(app, msg) is True
    [case] = app.queries.cases_for_jurisdiction("520102")
    opened = app.queries.case(uuid.UUID(case.case_id))
    assert opened.stage == "suspected"
    assert opened.source == "attendance"
    assert opened.trigger_id == msg.payload.detection_id
    assert opened.opened_at == DETECTED_AT
    assert opened.evidence["absent_days"] == msg.payload.absent_days
    assert opened.meta["actor_id"] == "system:casework"
    assert opened.meta["jurisdiction"] == "520102001"
    assert opened.meta["correlation_id"] == msg.envelope.correlationid
    assert opened.meta["causation_id"] == msg.envelope.id


def test_the_same_message_delivered_twice_is_applied_once(app):
    msg = message(detection())
    assert deliver(app, msg) is True
    assert deliver(app, msg) is False
    assert len(stored_case_events(app)) == 1


def test_the_same_detection_in_another_message_opens_nothing_new(app):
    detected = detection()
    deliver(app, message(detected))
    assert deliver(app, message(detected)) is True  # applied: its position advanced, with no effect
    assert len(stored_case_events(app)) == 1


def test_a_second_detection_while_the_case_is_open_joins_it(app):
    student = str(uuid.uuid4())
    first, second = detection(student), detection(student)
    deliver(app, message(first))
    deliver(app, message(second))
    [summary] = app.queries.cases_for_jurisdiction("52")
    case = app.queries.case(uuid.UUID(summary.case_id))
    assert case.trigger_ids == [first.detection_id, second.detection_id]
    assert [h.event for h in app.queries.case_history(case.id)] == ["Opened", "TriggerAttached"]


def test_children_each_get_their_own_case(app):
    deliver(app, message(detection()))
    deliver(app, message(detection()))
    assert len(app.queries.cases_for_jurisdiction("52")) == 2


def test_lists_stay_inside_the_jurisdiction_prefix_and_page_newest_first(app):
    for township in ("520102001", "520102002", "520103001"):
        deliver(app, message(detection(township_code=township)))
    assert {c.township_code for c in app.queries.cases_for_jurisdiction("520102")} == {"520102001", "520102002"}
    first = app.queries.cases_for_jurisdiction("52", limit=2)
    rest = app.queries.cases_for_jurisdiction("52", limit=2, after=(first[-1].opened_at, first[-1].case_id))
    assert len(first) == 2 and len(rest) == 1
    assert not {c.case_id for c in first} & {c.case_id for c in rest}


def test_a_report_opens_a_case_and_the_same_report_again_changes_nothing(app):
    meta = {"actor_id": "cadre-1", "actor_role": "village_cadre", "jurisdiction": "520102001001",
            "correlation_id": "c", "causation_id": None, "at": DETECTED_AT.isoformat()}
    report = {"report_id": "r-1", "student_id": "s-9", "township_code": "520102001001", "school_id": None, "note": "孩子外出打工"}
    outcome, case = app.opening.report_case(**report, meta=meta)
    again, same = app.opening.report_case(**report, meta=meta)
    assert (outcome, again) == ("opened", "duplicate")
    assert same.id == case.id and same.version == 1
    assert case.source == "report" and case.evidence == {"note": "孩子外出打工"}


def test_a_report_id_reused_for_another_child_is_a_conflict(app):
    meta = {"at": DETECTED_AT.isoformat()}
    app.opening.report_case(report_id="r-1", student_id="s-1", township_code="520102001", school_id=None, note="n", meta=meta)
    with pytest.raises(Conflict) as refused:
        app.opening.report_case(report_id="r-1", student_id="s-2", township_code="520102001", school_id=None, note="n", meta=meta)
    assert refused.value.rule == "trigger_id_unique"


def test_a_report_about_a_child_with_an_open_case_joins_it(app):
    detected = detection()
    deliver(app, message(detected))
    outcome, case = app.opening.report_case(report_id="r-2", student_id=detected.student_id, township_code="520102001",
                                    school_id=None, note="村里也发现了", meta={"at": DETECTED_AT.isoformat()})
    assert outcome == "attached"
    assert case.trigger_ids == [detected.detection_id, "r-2"]


def test_an_unknown_case_is_not_found_even_by_the_id_of_a_childs_case_file(app):
    detected = detection()
    deliver(app, message(detected))
    child_file = app.repository.get(ChildCases.create_id(detected.student_id))
    with pytest.raises(NotFound):
        app.queries.case(child_file.id)
    with pytest.raises(NotFound):
        app.queries.case(uuid.uuid4())


def test_only_an_opened_case_is_published_and_it_matches_its_contract(app):
    msg = message(detection(), time=DETECTED_AT)
    deliver(app, msg)
    published = [
        c for n in app.recorder.select_notifications(start=1, limit=100)
        if (c := to_contract(app.mapper.to_domain_event(n))) is not None
    ]
    [opened] = published
    assert isinstance(opened, CaseOpenedV1)
    assert opened.trigger_id == msg.payload.detection_id
    assert opened.opened_at == DETECTED_AT
    assert opened.case_id == str(Case.create_id("attendance", msg.payload.detection_id))
