"""StudentErased.v1: the contact card forgets the student's masked name; later messages do not carry it."""

from __future__ import annotations

import uuid
from datetime import date

from contracts.events.registry import StudentErasedV1
from services.notifications.tests.builders import TOWNSHIP, case_opened, enrolled
from services.notifications.tests.test_head_teacher_notified import World


def test_an_erased_student_is_named_in_no_later_message(tmp_path):
    world = World(tmp_path)
    student = str(uuid.uuid4())
    world.deliver(enrolled(student), "registry", 1)
    erased = StudentErasedV1(student_id=student, township_code=TOWNSHIP, legal_basis="consent_withdrawn",
                             erased_on=date(2025, 10, 1))
    assert world.deliver(erased, "registry", 2)
    assert world.app.contact(student).name_masked is None
    world.deliver(enrolled(student), "registry", 3)  # a replayed enrolment does not bring the name back
    assert world.app.contact(student).name_masked is None
    world.deliver(case_opened(student), "casework", 1)
    [line] = world.channel.lines()
    assert "张*丰" not in line["text"] and "疑似辍学" in line["text"]  # the teacher is still told, by class
    assert world.app.contact(student).head_teacher_id == "teacher-li"
