"""Stories of telling the right people: 辍学报告制, owners, missed deadlines, legal steps, late recipients."""

from __future__ import annotations

import uuid

import pytest

from services.notifications.adapters.projections import Query
from services.notifications.domain.directory import Recipient
from services.notifications.entrypoints.consumers import policies as consumer_policies
from services.notifications.tests.builders import (
    COUNTY,
    COUNTY_ZHAO,
    JUSTICE_SUN,
    TOWNSHIP,
    TOWNSHIP_WANG,
    case_opened,
    deadline_passed,
    enrolled,
    escalated,
    owners_assigned,
    suspected_dropout,
)
from services.notifications.tests.world import World
from services.runtime.testing import message
from services.runtime.tests.reads import record_gets


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)


def by_recipient(lines: list[dict]) -> dict[str, dict]:
    return {x["recipient_id"]: x for x in lines}


def test_a_suspected_dropout_reaches_the_township_and_the_county_at_once(world):
    world.name(TOWNSHIP_WANG, COUNTY_ZHAO)
    student = str(uuid.uuid4())
    world.deliver(enrolled(student))
    world.deliver(suspected_dropout(student))

    told = by_recipient(world.lines())
    assert set(told) == {"twp-wang", "cty-zhao"}
    assert told["twp-wang"]["template"] == "suspected_dropout_township"
    assert told["cty-zhao"]["template"] == "suspected_dropout_county"
    assert told["twp-wang"]["address"] == "13800000001"
    for line in told.values():
        assert "张*丰" in line["text"] and "张三丰" not in line["text"]
        assert "辍学报告制" in line["text"] and "连续2个上学日" in line["text"]
    assert "王建国同志" in told["twp-wang"]["text"]
    assert {(p.recipient_role, p.case_id) for p in world.published()} == {
        ("township_officer", None), ("county_officer", None),
    }


def test_the_nearest_level_answers_when_the_township_has_no_one(world):
    elsewhere = Recipient("township_officer", "520102002", "twp-other", "李四", None)
    county_desk = Recipient("township_officer", COUNTY, "cty-desk", "周五", None)
    world.name(elsewhere, county_desk, COUNTY_ZHAO)
    world.deliver(suspected_dropout(str(uuid.uuid4())))

    assert set(by_recipient(world.lines())) == {"cty-desk", "cty-zhao"}


def test_an_owner_learns_of_an_assignment_on_both_lines(world):
    student = str(uuid.uuid4())
    world.deliver(enrolled(student))
    case = case_opened(student)
    world.deliver(case)
    world.deliver(owners_assigned(case.case_id, ("township", "gov-liu", None), ("head_teacher", "teacher-li", None)))

    owners = by_recipient(world.lines("owner_assigned"))
    assert set(owners) == {"gov-liu", "teacher-li"}
    assert "劝返责任人" in owners["gov-liu"]["text"] and "政府线·乡镇干部" in owners["gov-liu"]["text"]
    assert "教育线·班主任" in owners["teacher-li"]["text"] and "张*丰" in owners["teacher-li"]["text"]
    assert len(world.lines("case_opened_head_teacher")) == 1  # the head teacher's case notice is still one line

    world.deliver(owners_assigned(case.case_id, ("township", "gov-chen", "gov-liu"), ("head_teacher", "teacher-li", "teacher-li")))
    assert set(by_recipient(world.lines("owner_assigned"))) == {"gov-liu", "teacher-li", "gov-chen"}
    assert world.app.case_file(case.case_id).owners == {"township": "gov-chen", "head_teacher": "teacher-li"}


def test_a_missed_deadline_alerts_the_owners_and_the_county(world):
    world.name(COUNTY_ZHAO, TOWNSHIP_WANG)
    student = str(uuid.uuid4())
    world.deliver(enrolled(student))
    case = case_opened(student)
    world.deliver(case)
    world.deliver(owners_assigned(case.case_id, ("village", "cadre-wu", None), ("head_teacher", "teacher-li", None)))
    world.deliver(deadline_passed(case.case_id, "return_notice"))

    assert set(by_recipient(world.lines("deadline_passed_owner"))) == {"cadre-wu", "teacher-li"}
    [upward] = world.lines("deadline_passed_escalation")
    assert upward["recipient_id"] == "cty-zhao"
    assert "书面复学通知书" in upward["text"] and "2025年09月15日 16:30" in upward["text"]
    assert not any(x["recipient_id"] == "twp-wang" for x in world.lines())  # the township is not the level above


def test_a_legal_step_tells_the_owners_the_township_and_the_justice_office(world):
    world.name(TOWNSHIP_WANG, JUSTICE_SUN)
    student = str(uuid.uuid4())
    case = case_opened(student)
    world.deliver(case)
    world.deliver(owners_assigned(case.case_id, ("township", "gov-liu", None)))
    world.deliver(escalated(case.case_id, student, "legal_documents"))

    assert [x["recipient_id"] for x in world.lines("case_escalated_owner")] == ["gov-liu"]
    assert [x["recipient_id"] for x in world.lines("case_escalated_township")] == ["twp-wang"]
    [justice] = world.lines("case_escalated_justice")
    assert justice["recipient_id"] == "sfs-sun" and "司法文书" in justice["text"] and "限期至" in justice["text"]


def test_a_return_notice_tells_only_the_owners(world):
    world.name(TOWNSHIP_WANG, JUSTICE_SUN)
    student = str(uuid.uuid4())
    case = case_opened(student)
    world.deliver(case)
    world.deliver(owners_assigned(case.case_id, ("township", "gov-liu", None)))
    world.deliver(escalated(case.case_id, student, "return_notice"))
    assert {x["template"] for x in world.lines()} - {"case_opened_head_teacher"} == {"owner_assigned", "case_escalated_owner"}


def test_a_recipient_added_later_gets_the_pending_notice(world):
    student = str(uuid.uuid4())
    world.deliver(enrolled(student))
    world.deliver(suspected_dropout(student))
    pending = world.app.search(Query(prefix=COUNTY, status="pending"))
    assert {p.recipient_role for p in pending} == {"township_officer", "county_officer"}
    assert world.lines() == [] and world.published() == []

    change = world.name(TOWNSHIP_WANG)
    assert (change.listed, change.delivered) == (1, 1)
    [line] = world.lines()
    assert line["recipient_id"] == "twp-wang" and line["template"] == "suspected_dropout_township"
    assert [p.recipient_role for p in world.app.search(Query(prefix=COUNTY, status="pending"))] == ["county_officer"]
    assert [f.recipient_role for f in world.app.search(Query(prefix=COUNTY, status="forwarded"))] == ["township_officer"]

    assert world.name(COUNTY_ZHAO).delivered == 1
    assert world.app.search(Query(prefix=COUNTY, status="pending")) == []
    assert {s.recipient_id for s in world.app.search(Query(prefix=COUNTY, status="sent"))} == {"twp-wang", "cty-zhao"}
    assert world.app.directory(COUNTY).parked == {}


def test_duplicates_notify_nobody_twice(world):
    world.name(TOWNSHIP_WANG, COUNTY_ZHAO)
    student = str(uuid.uuid4())
    case = case_opened(student)
    world.deliver(enrolled(student))
    world.deliver(case)
    detection = suspected_dropout(student)
    assert world.deliver(detection, sequence=1) is True
    assert world.deliver(detection, sequence=1) is False  # redelivery at the same position
    assert world.deliver(detection, sequence=2) is True  # the same detection published again
    assignment = owners_assigned(case.case_id, ("township", "gov-liu", None))
    world.deliver(assignment, id="evt-assign-1")
    world.deliver(assignment, id="evt-assign-1")  # the same event after a broker refill
    timer = deadline_passed(case.case_id, timer_id="timer-1")
    world.deliver(timer)
    world.deliver(timer)
    assert world.name(TOWNSHIP_WANG, COUNTY_ZHAO).listed == 0  # an import of the same people changes nothing

    ids = [x["notification_id"] for x in world.lines()]
    assert len(ids) == len(set(ids)) == 1 + 2 + 1 + 2  # head teacher, report x2, owner, owner alert + county alert
    assert len(world.published()) == len(ids)


def test_a_pending_notice_waits_when_the_wrong_role_is_named(world):
    world.deliver(suspected_dropout(str(uuid.uuid4())))
    assert world.name(JUSTICE_SUN).delivered == 0
    assert len(world.app.search(Query(prefix=TOWNSHIP, status="pending"))) == 2


def test_a_removed_recipient_hands_over_to_the_next_level(world):
    county_desk = Recipient("township_officer", COUNTY, "cty-desk", "周五", None)
    world.name(TOWNSHIP_WANG, county_desk)
    world.directory.remove("township_officer", TOWNSHIP, "twp-wang", {"actor_id": "x"})
    world.deliver(suspected_dropout(str(uuid.uuid4())))
    assert [x["recipient_id"] for x in world.lines("suspected_dropout_township")] == ["cty-desk"]


def test_each_policy_loads_the_aggregates_it_declares_for_a_batch(world, monkeypatch):
    """What a policy declares (read for a whole batch in one query, ``loads``) is what it loads on its usual path."""
    loaded = record_gets(world.app, monkeypatch)
    world.name(TOWNSHIP_WANG, COUNTY_ZHAO, JUSTICE_SUN)
    student, case_id = str(uuid.uuid4()), str(uuid.uuid4())
    stories = [enrolled(student), case_opened(student, case_id), suspected_dropout(student),
               owners_assigned(case_id, ("head_teacher", "teacher-li", None)), deadline_passed(case_id),
               escalated(case_id, student)]
    for payload in stories:
        loaded.clear()
        declared = set(consumer_policies(world.policies)[type(payload)].loads(message(payload)))
        assert world.deliver(payload) is True
        assert declared and declared <= set(loaded), type(payload).__name__
