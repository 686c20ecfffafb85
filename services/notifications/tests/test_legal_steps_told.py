"""Each legal step (issue 12's one contract per step) tells every owner on both lines and the county bureau, with
the document reference and deadline; a reassigned owner is told and hears of the next step."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from contracts.events.casework import (
    CaseOwnersReassignedV1,
    CorrectionOrderIssuedV1,
    CourtReferralMadeV1,
    ReturnNoticeIssuedV1,
)
from services.notifications.tests.builders import (
    COUNTY_ZHAO,
    JUSTICE_SUN,
    NOW,
    TOWNSHIP,
    TOWNSHIP_WANG,
    case_opened,
    enrolled,
    owners_assigned,
)
from services.notifications.tests.world import World


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)


def step_fields(case_id: str, student_id: str, document_no: str) -> dict:
    return dict(case_id=case_id, student_id=student_id, township_code=TOWNSHIP, document_no=document_no,
                issued_by="ht-7", issued_at=NOW, overridden=False, automatic=False, evidence_count=1)


def opened_with_both_lines(world: World) -> tuple[str, str]:
    world.name(TOWNSHIP_WANG, COUNTY_ZHAO, JUSTICE_SUN)
    student = str(uuid.uuid4())
    case = case_opened(student)
    world.deliver(enrolled(student))
    world.deliver(case)
    world.deliver(owners_assigned(case.case_id, ("village", "gov-liu", None), ("head_teacher", "teacher-li", None)))
    return case.case_id, student


def test_a_return_notice_tells_both_lines_and_the_county_with_its_document_and_deadline(world):
    case_id, student = opened_with_both_lines(world)
    world.deliver(ReturnNoticeIssuedV1(**step_fields(case_id, student, "复学通知〔2025〕12号"),
                                       deadline_at=NOW + timedelta(days=7)))
    owners = {x["recipient_id"]: x for x in world.lines("case_escalated_owner")}
    assert set(owners) == {"gov-liu", "teacher-li"}
    [county] = world.lines("legal_step_county")
    assert county["recipient_id"] == "cty-zhao"
    assert "书面复学通知书" in county["text"] and "复学通知〔2025〕12号" in county["text"] and "限期至" in county["text"]
    assert "张*丰" in county["text"] and "张三丰" not in county["text"]
    assert world.lines("case_escalated_township") == []  # a return notice is the school's own step


def test_a_correction_order_also_tells_the_township_and_a_court_referral_the_justice_office(world):
    case_id, student = opened_with_both_lines(world)
    world.deliver(CorrectionOrderIssuedV1(**step_fields(case_id, student, "责改〔2025〕3号"),
                                          deadline_at=NOW + timedelta(days=15)))
    world.deliver(CourtReferralMadeV1(**step_fields(case_id, student, "提请〔2025〕1号")))
    assert [x["recipient_id"] for x in world.lines("case_escalated_township")] == ["twp-wang", "twp-wang"]
    assert [x["recipient_id"] for x in world.lines("case_escalated_justice")] == ["sfs-sun"]
    assert len(world.lines("legal_step_county")) == 2
    assert len(world.lines("case_escalated_owner")) == 4


def test_the_same_step_delivered_twice_tells_nobody_twice(world):
    case_id, student = opened_with_both_lines(world)
    notice = ReturnNoticeIssuedV1(**step_fields(case_id, student, "n-1"), deadline_at=NOW + timedelta(days=7))
    world.deliver(notice, id="evt-notice-1")
    before = len(world.lines())
    world.deliver(notice, id="evt-notice-1")  # republished after a relay refill: a later sequence, the same event
    assert len(world.lines()) == before == 6  # head teacher's opening, two assignments, two owners, the county


def test_a_reassigned_owner_is_told_and_hears_of_the_next_step(world):
    case_id, student = opened_with_both_lines(world)
    world.deliver(CaseOwnersReassignedV1(case_id=case_id, township_code=TOWNSHIP, slot="head_teacher",
                                         line="education", user_id="teacher-zhou", previous_user_id="teacher-li",
                                         reassigned_by="lead-1", reassigned_at=NOW))
    assert "teacher-zhou" in [x["recipient_id"] for x in world.lines("owner_assigned")]
    world.deliver(ReturnNoticeIssuedV1(**step_fields(case_id, student, "n-2"), deadline_at=NOW + timedelta(days=7)))
    assert {x["recipient_id"] for x in world.lines("case_escalated_owner")} == {"gov-liu", "teacher-zhou"}
