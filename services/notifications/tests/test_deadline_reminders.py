"""A deadline that falls due in a few days (CaseDeadlineApproachingV1, issue 12) reminds every owner of the case on
both lines, once per reminder (3 and 1 days before are two messages; the same message again is none)."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from contracts.events.casework import CaseDeadlineApproachingV1
from services.notifications.tests.builders import TOWNSHIP, case_opened, enrolled, owners_assigned
from services.notifications.tests.world import World

CHINA_MIDNIGHT = datetime.fromisoformat("2025-09-23T00:00:00+08:00")  # the deadline lasts through 9-22


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)


def approaching(case_id: str, timer_id: str, days_before: int, kind: str = "ladder") -> CaseDeadlineApproachingV1:
    return CaseDeadlineApproachingV1(case_id=case_id, township_code=TOWNSHIP, timer_id=timer_id, kind=kind,
                                     step="correction_order" if kind == "ladder" else None, due_at=CHINA_MIDNIGHT,
                                     days_before=days_before)


def test_each_reminder_tells_every_owner_once_with_the_last_day(world):
    student = str(uuid.uuid4())
    case = case_opened(student)
    world.deliver(enrolled(student))
    world.deliver(case)
    world.deliver(owners_assigned(case.case_id, ("village", "gov-liu", None), ("head_teacher", "teacher-li", None)))
    timer = str(uuid.uuid4())
    three = approaching(case.case_id, timer, 3)
    world.deliver(three)
    world.deliver(three)  # redelivered: nothing new
    lines = world.lines("deadline_approaching_owner")
    assert sorted(x["recipient_id"] for x in lines) == ["gov-liu", "teacher-li"]
    assert all("责令限期改正" in x["text"] and "2025年09月22日" in x["text"] and "不足3天" in x["text"]
               for x in lines), lines
    assert all("张*丰" in x["text"] and "张三丰" not in x["text"] for x in lines)
    world.deliver(approaching(case.case_id, timer, 1))
    assert len(world.lines("deadline_approaching_owner")) == 4
    world.deliver(approaching(case.case_id, str(uuid.uuid4()), 3, kind="follow_up"))
    follow_up = world.lines("deadline_approaching_owner")[4:]
    assert len(follow_up) == 2 and all("复学跟踪" in x["text"] for x in follow_up)
