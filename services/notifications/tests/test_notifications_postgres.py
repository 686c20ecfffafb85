"""Notifications on PostgreSQL: one notification per trigger despite redelivery, read back through the API."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from services.notifications.adapters.channels import FileChannel
from services.notifications.application import NotificationsApp
from services.notifications.application.policies import NotificationPolicies
from services.notifications.bootstrap import api
from services.notifications.entrypoints.consumers import policies as consumer_policies
from services.notifications.settings import NotificationsSettings
from services.notifications.tests.builders import NOW, case_opened, enrolled
from services.runtime.clock import FixedClock
from services.runtime.consumer import EventSink
from services.runtime.eventstore import build_application
from services.runtime.testing import auth, message
from services.runtime.tests.reads import count_reads

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(database_url, tmp_path_factory):
    return NotificationsSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))


@pytest.fixture(scope="module")
def store(settings):
    return build_application(NotificationsApp, settings, "notifications")


@pytest.fixture(scope="module")
def consumer(store, settings):
    clock = FixedClock(NOW)
    channel = FileChannel(settings.data_dir, clock.now)
    return EventSink(store), consumer_policies(NotificationPolicies(store, channel, clock)), channel


@pytest.fixture(scope="module")
def client(settings):
    app, runtime = api(settings)
    with TestClient(app) as c:
        yield c
    runtime.close()


def deliver(consumer, payload, sequence: int) -> bool:
    sink, policies, _ = consumer
    track = f"notifications:{payload.topic}:0"
    return sink.apply(track, sequence, policies[type(payload)], message(payload, sequence=sequence))


def test_the_head_teacher_is_told_once_and_officials_can_see_it(consumer, store, client):
    student = str(uuid.uuid4())
    case = case_opened(student)
    base = store.last_tracked("notifications:baoxue.casework.v1:0")
    assert deliver(consumer, case, base + 1) is True
    assert deliver(consumer, case, base + 1) is False  # redelivery at the same position
    assert deliver(consumer, enrolled(student), store.last_tracked("notifications:baoxue.registry.v1:0") + 1)
    assert deliver(consumer, case, base + 2) is True  # the same trigger published again

    [view] = store.notifications_for_case(case.case_id)
    assert (view.status, view.recipient_id) == ("sent", "teacher-li")
    _, _, channel = consumer
    assert [line["notification_id"] for line in channel.lines()].count(view.notification_id) == 1

    seen = client.get("/v1/notifications", params={"case_id": case.case_id}, headers=auth("county_officer", "520102"))
    assert seen.status_code == 200
    [public] = seen.json()
    assert (public["status"], public["channel"], public["recipient_role"]) == ("sent", "file", "head_teacher")
    assert "text" not in public

    elsewhere = client.get("/v1/notifications", params={"case_id": case.case_id}, headers=auth("county_officer", "520103"))
    assert elsewhere.json() == []
    assert client.get("/v1/notifications", params={"case_id": case.case_id}).status_code == 401


def test_a_batch_reads_the_contacts_and_case_files_its_policies_declare_in_one_query(consumer, store, monkeypatch):
    sink, policies, _ = consumer
    students = [str(uuid.uuid4()) for _ in range(10)]
    registry, casework = f"notifications:registry:{uuid.uuid4()}", f"notifications:casework:{uuid.uuid4()}"
    told, waiting = case_opened(students[2]), case_opened(str(uuid.uuid4()))  # the second student is not enrolled
    items = [(registry, n + 1, policies[type(p)], message(p, sequence=n + 1))
             for n, p in enumerate(enrolled(s) for s in students)]
    items += [(casework, 1, policies[type(told)], message(told, sequence=1)),
              (casework, 2, policies[type(waiting)], message(waiting, sequence=2))]
    reads = count_reads(store, monkeypatch)
    sink.apply_batch(items)
    assert reads == {"one": 0, "many": 1, "rows": 1}  # case files and notifications at once, the contacts in one
    [sent] = store.notifications_for_case(told.case_id)
    assert (sent.status, sent.recipient_id) == ("sent", "teacher-li")  # the contact the same batch recorded
    [held] = store.notifications_for_case(waiting.case_id)
    assert held.status != "sent"
    assert store.last_tracked(registry) == 10 and store.last_tracked(casework) == 2


def test_every_policy_applies_odd_values_the_contracts_accept_and_the_list_still_answers(consumer, store, client):
    """Odd free text and owner ids (separators, quotes, backslashes, long strings) are applied, never dead-lettered."""
    from services.notifications.tests.builders import deadline_passed, escalated, owners_assigned, suspected_dropout
    from services.runtime.testing import odd_variant

    student, case_id = str(uuid.uuid4()), str(uuid.uuid4())
    payloads = [enrolled(student, head_teacher_id="t;1\\\"'"), case_opened(student, case_id), suspected_dropout(student),
                owners_assigned(case_id, ("township", "gov;x=1", None), ("head_teacher", "ht'\"\\", "t;1")),
                deadline_passed(case_id), escalated(case_id, student)]
    for n, payload in enumerate(payloads):
        odd = odd_variant(payload, n)
        track = f"notifications:{odd.topic}:0"
        assert deliver(consumer, odd, store.last_tracked(track) + 1) is True
    listed = client.get("/v1/notifications", params={"case_id": case_id}, headers=auth("county_officer", "520102"))
    assert listed.status_code == 200
    assert client.get("/v1/notifications", headers=auth("province_officer", "52")).status_code == 200


def test_a_contact_card_from_before_the_table_is_read_and_its_waiting_notice_goes_out(consumer, store):
    """A store from before the contacts table holds ``StudentContact`` aggregates: a case notice waiting on one
    goes out when the enrolment comes, and from then on the table holds the contact."""
    from services.notifications.domain import CASE_OPENED_TEMPLATE, HEAD_TEACHER, Notification, StudentContact

    sink, policies, channel = consumer
    student, meta = str(uuid.uuid4()), {"actor_id": "notifications", "at": NOW.isoformat()}
    waiting = Notification(case_id=str(uuid.uuid4()), student_id=student, township_code="520102001",
                           recipient_role=HEAD_TEACHER, template=CASE_OPENED_TEMPLATE, meta=meta)
    waiting.wait_for_recipient(meta)
    legacy = StudentContact(student_id=student, township_code="520102001", meta=meta)
    legacy.await_recipient(str(waiting.id), meta)
    store.save(waiting, legacy)
    assert store.contact(student).pending == (str(waiting.id),)  # read from the aggregate: no row yet

    payload = enrolled(student, head_teacher_id="teacher-old")
    sink.apply_batch([(f"notifications:registry:{uuid.uuid4()}", 1, policies[type(payload)],
                       message(payload, sequence=1))])
    assert store.notification(waiting.id).status == "sent"
    row = store.contacts.get(student)
    assert (row.head_teacher_id, row.pending, row.event_id is not None) == ("teacher-old", (), True)
    assert store.contact(student) == row and store.repository.get(legacy.id).pending == [str(waiting.id)]


def test_a_contact_changed_by_another_consumer_meanwhile_is_not_overwritten(consumer, store, settings):
    """The enrolment's batch read the student's contact before another consumer (casework's topic, another partition)
    parked a case notice on it: the batch's write fails like a version conflict, and applied again alone the
    enrolment sees the notice and sends it."""
    from services.runtime.consumer import BatchConflict

    sink, policies, channel = consumer
    other = build_application(NotificationsApp, settings, "notifications")
    clock = FixedClock(NOW)
    other_sink = EventSink(other)
    other_policies = consumer_policies(NotificationPolicies(other, FileChannel(settings.data_dir, clock.now), clock))
    student = str(uuid.uuid4())
    opened, enrolment = case_opened(student), enrolled(student, head_teacher_id="teacher-late")
    track = f"notifications:registry:{uuid.uuid4()}"
    real = policies[type(enrolment)]

    def meanwhile(message):
        assert other_sink.apply(f"notifications:casework:{uuid.uuid4()}", 1, other_policies[type(opened)],
                                message_of(opened))
        return real(message)

    meanwhile.loads = real.loads  # type: ignore[attr-defined]
    msg = message_of(enrolment)
    with pytest.raises(BatchConflict):
        sink.apply_batch([(track, 1, meanwhile, msg)])
    assert store.contact(student).pending  # the parked notice survived the failed batch
    assert sink.apply(track, 1, real, msg) is True  # what the loop does after a conflict: one at a time
    [view] = store.notifications_for_case(opened.case_id)
    assert view.status == "sent" and view.recipient_id == "teacher-late" and store.contact(student).pending == ()
    other.close()


def message_of(payload):
    return message(payload, sequence=1)
