"""督导检查 (baoxue.inspections.v1): the unit named in a finding hears of it, of its rectification order and of a
rejection; it is reminded before the deadline; when the deadline passes the level above hears of it. Each once."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.events.inspections import (
    InspectionFindingEscalatedV1,
    InspectionFindingRecordedV1,
    InspectionRectificationDueV1,
    InspectionRectificationOrderedV1,
    InspectionRectificationRejectedV1,
)
from services.notifications.domain.directory import Recipient
from services.notifications.tests.builders import COUNTY, COUNTY_ZHAO, NOW, TOWNSHIP, TOWNSHIP_WANG
from services.notifications.tests.world import World

PREFECTURE_LI = Recipient("prefecture_officer", "5201", "pref-li", "李华", "13800000009")
FINDING = {"inspection_id": "insp-1", "inspection_code": "52", "description_code": "owner_missing"}


@pytest.fixture
def world(tmp_path) -> World:
    w = World(tmp_path)
    w.name(TOWNSHIP_WANG, COUNTY_ZHAO, PREFECTURE_LI)
    return w


def of(unit: str, school: str | None = None, fid: str = "insp-1:f1") -> dict:
    return {**FINDING, "finding_id": fid, "unit_code": unit, "school_id": school}


def test_a_township_finding_is_told_ordered_reminded_and_escalated_to_the_county(world):
    unit = of(TOWNSHIP)
    world.deliver(InspectionFindingRecordedV1(**unit, severity="serious", evidence_sha256=["ab" * 32],
                                              recorder_role="province_officer", recorded_at=NOW))
    world.deliver(InspectionRectificationOrderedV1(**unit, deadline=date(2025, 11, 20), orderer_role="province_officer",
                                                   ordered_at=NOW))
    for left in (7, 3, 1):
        world.deliver(InspectionRectificationDueV1(**unit, deadline=date(2025, 11, 20), days_left=left, recorded_at=NOW))
    escalated = InspectionFindingEscalatedV1(**unit, deadline=date(2025, 11, 20), escalated_to=COUNTY, recorded_at=NOW)
    world.deliver(escalated)
    world.deliver(escalated)  # redelivered: told once

    [found] = world.lines("inspection_finding")
    assert found["recipient_id"] == "twp-wang"
    assert "劝返责任人未落实" in found["text"] and "较重" in found["text"] and f"乡镇（街道） {TOWNSHIP}" in found["text"]
    [ordered] = world.lines("inspection_rectification_ordered")
    assert ordered["recipient_id"] == "twp-wang" and "2025年11月20日前完成整改" in ordered["text"]
    due = world.lines("inspection_rectification_due")
    assert [x["recipient_id"] for x in due] == ["twp-wang"] * 3
    assert ["还剩7天" in due[0]["text"], "还剩1天" in due[2]["text"]] == [True, True]
    [up] = world.lines("inspection_finding_escalated")
    assert up["recipient_id"] == "cty-zhao" and "已上报至贵单位" in up["text"] and "赵明同志" in up["text"]


def test_a_school_finding_goes_to_its_township_and_a_county_finding_up_to_the_prefecture(world):
    school = of(TOWNSHIP, "school-7", fid="insp-1:s1")
    world.deliver(InspectionFindingRecordedV1(**school, severity="general", evidence_sha256=[],
                                              recorder_role="county_officer", recorded_at=NOW))
    [line] = world.lines("inspection_finding")
    assert line["recipient_id"] == "twp-wang" and "学校 school-7" in line["text"]

    county = of(COUNTY, fid="insp-1:c1")
    world.deliver(InspectionRectificationRejectedV1(**county, reason_code="evidence_missing",
                                                    deadline=date(2025, 12, 1), rejector_role="province_officer",
                                                    rejected_at=NOW))
    [rejected] = world.lines("inspection_rectification_rejected")
    assert rejected["recipient_id"] == "cty-zhao" and "佐证材料不足" in rejected["text"]
    world.deliver(InspectionFindingEscalatedV1(**county, deadline=date(2025, 12, 1), escalated_to="5201",
                                               recorded_at=NOW))
    [up] = world.lines("inspection_finding_escalated")
    assert up["recipient_id"] == "pref-li" and f"县（区） {COUNTY}" in up["text"]


def test_an_escalation_waits_for_a_named_officer(tmp_path):
    world = World(tmp_path)
    world.deliver(InspectionFindingEscalatedV1(**of(TOWNSHIP), deadline=date(2025, 11, 20), escalated_to=COUNTY,
                                               recorded_at=NOW))
    assert world.lines("inspection_finding_escalated") == []
    assert world.name(COUNTY_ZHAO).delivered == 1
    assert [x["recipient_id"] for x in world.lines("inspection_finding_escalated")] == ["cty-zhao"]
