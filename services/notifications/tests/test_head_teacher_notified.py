"""Stories of the notifications policies on in-memory persistence: a head teacher is told once."""

from __future__ import annotations

import uuid

import pytest

from contracts.events import NotificationSentV1
from services.notifications.adapters.channels import FileChannel
from services.notifications.adapters.publishing import to_contract
from services.notifications.application import NotificationsApp
from services.notifications.application.policies import NotificationPolicies
from services.notifications.domain import AlreadySent
from services.notifications.entrypoints.consumers import policies as consumer_policies
from services.notifications.tests.builders import NOW, TOWNSHIP, case_opened, enrolled
from services.runtime.clock import FixedClock
from services.runtime.consumer import EventSink
from services.runtime.testing import in_memory, message


class World:
    """The notifications consumer as the loop drives it: policies applied through an EventSink."""

    def __init__(self, tmp_path) -> None:
        self.app = in_memory(NotificationsApp)
        self.clock = FixedClock(NOW)
        self.channel = FileChannel(tmp_path, self.clock.now)
        self.policies = NotificationPolicies(self.app, self.channel, self.clock)
        self.sink = EventSink(self.app)

    def deliver(self, payload, topic: str, sequence: int) -> bool:
        policy = consumer_policies(self.policies)[type(payload)]
        return self.sink.apply(f"notifications:{topic}:0", sequence, policy, message(payload, sequence=sequence))

    def published(self) -> list[NotificationSentV1]:
        events = self.app.recorder.select_notifications(start=1, limit=1000)
        mapped = [to_contract(self.app.mapper.to_domain_event(e)) for e in events]
        return [c for c in mapped if isinstance(c, NotificationSentV1)]


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)


def test_a_known_head_teacher_is_told_when_a_case_opens(world, tmp_path):
    student = str(uuid.uuid4())
    world.deliver(enrolled(student), "registry", 1)
    case = case_opened(student)
    world.deliver(case, "casework", 1)

    [view] = world.app.notifications_for_case(case.case_id)
    assert (view.status, view.recipient_id, view.channel, view.sent_at) == ("sent", "teacher-li", "file", NOW)
    [line] = world.channel.lines()
    assert (tmp_path / "notifications" / "outbox.jsonl").exists()
    assert line["recipient_id"] == "teacher-li" and line["notification_id"] == view.notification_id
    assert "张*丰" in line["text"] and "疑似辍学" in line["text"] and "李华老师" in line["text"]
    [sent] = world.published()
    assert (sent.case_id, sent.recipient_role, sent.channel, sent.township_code) == (
        case.case_id, "head_teacher", "file", TOWNSHIP,
    )


def test_a_case_before_the_enrolment_waits_then_is_sent(world):
    student = str(uuid.uuid4())
    case = case_opened(student)
    world.deliver(case, "casework", 1)

    [view] = world.app.notifications_for_case(case.case_id)
    assert view.status == "pending" and view.recipient_id is None
    assert world.channel.lines() == [] and world.published() == []
    assert world.app.contact(student).pending == (view.notification_id,)

    world.deliver(enrolled(student), "registry", 1)

    [view] = world.app.notifications_for_case(case.case_id)
    assert (view.status, view.recipient_id) == ("sent", "teacher-li")
    assert len(world.channel.lines()) == 1 and len(world.published()) == 1
    assert world.app.contact(student).pending == ()


def test_an_enrolment_without_head_teacher_keeps_the_notification_pending(world):
    student = str(uuid.uuid4())
    world.deliver(enrolled(student, head_teacher_id=None), "registry", 1)
    case = case_opened(student)
    world.deliver(case, "casework", 1)
    assert world.app.notifications_for_case(case.case_id)[0].status == "pending"

    world.deliver(enrolled(student), "registry", 2)
    assert world.app.notifications_for_case(case.case_id)[0].status == "sent"
    assert len(world.channel.lines()) == 1


def test_a_duplicate_case_message_never_notifies_twice(world):
    student = str(uuid.uuid4())
    world.deliver(enrolled(student), "registry", 1)
    case = case_opened(student)
    assert world.deliver(case, "casework", 1) is True
    assert world.deliver(case, "casework", 1) is False  # redelivery: same position
    assert world.deliver(case, "casework", 2) is True  # the same trigger published again

    assert len(world.app.notifications_for_case(case.case_id)) == 1
    assert len(world.channel.lines()) == 1
    assert len(world.published()) == 1


def test_a_redelivered_enrolment_changes_nothing(world):
    student = str(uuid.uuid4())
    world.deliver(enrolled(student), "registry", 1)
    first = world.app.contact(student)
    assert world.deliver(enrolled(student), "registry", 2) is True
    assert world.app.contact(student) == first  # the row still names the first enrolment's event


def test_the_channel_is_idempotent_across_restarts(tmp_path):
    clock = FixedClock(NOW)
    FileChannel(tmp_path, clock.now).send("n-1", "teacher-li", "文本")
    again = FileChannel(tmp_path, clock.now)
    again.send("n-1", "teacher-li", "文本")
    assert len(again.lines()) == 1


def test_a_notification_is_sent_at_most_once(world):
    student = str(uuid.uuid4())
    world.deliver(enrolled(student), "registry", 1)
    case = case_opened(student)
    world.deliver(case, "casework", 1)
    notification = world.app.notification(world.app.notifications_for_case(case.case_id)[0].notification_id)
    with pytest.raises(AlreadySent):
        notification.mark_sent(recipient_id="x", channel="file", sent_at=NOW, text="t", meta={})
