"""月报告制度: a unit whose monthly report waits is reminded before the due day; when the day passes the level
above hears of it; a redelivered event tells nobody twice."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from contracts.events.reporting import MonthlyReportDueV1, MonthlyReportOverdueV1
from services.notifications.tests.builders import COUNTY, COUNTY_ZHAO, NOW, TOWNSHIP, TOWNSHIP_WANG
from services.notifications.domain.directory import Recipient
from services.notifications.tests.world import World


@pytest.fixture
def world(tmp_path) -> World:
    w = World(tmp_path)
    w.name(TOWNSHIP_WANG, COUNTY_ZHAO)
    return w


def due(level: str = "township", code: str = TOWNSHIP, school_id: str | None = None) -> MonthlyReportDueV1:
    return MonthlyReportDueV1(report_id=str(uuid.uuid4()), code=code, school_id=school_id, level=level,
                              month="2025-10", due_on=date(2025, 11, 5), recorded_at=NOW)


def test_the_township_is_reminded_of_its_own_report_and_of_its_schools(world):
    world.deliver(due())
    world.deliver(due("school", TOWNSHIP, "school-7"))
    lines = world.lines("monthly_report_due")
    assert [x["recipient_id"] for x in lines] == ["twp-wang", "twp-wang"]
    assert "2025年10月的控辍保学月报尚未上报" in lines[0]["text"] and "2025年11月05日前" in lines[0]["text"]
    assert "学校 school-7" in lines[1]["text"] and "王建国同志" in lines[0]["text"]


def test_a_late_township_report_tells_the_county_once(world):
    late = MonthlyReportOverdueV1(report_id=str(uuid.uuid4()), code=TOWNSHIP, school_id=None, level="township",
                                  month="2025-10", due_on=date(2025, 11, 5), parent_code=COUNTY, recorded_at=NOW)
    world.deliver(late, sequence=1)
    world.deliver(late, sequence=2)  # the same report's lateness again (a refill): told once
    [line] = world.lines("monthly_report_overdue")
    assert line["recipient_id"] == "cty-zhao" and "已超过报送期限（2025年11月05日）" in line["text"]
    assert f"乡镇（街道） {TOWNSHIP}" in line["text"]
    assert {(p.recipient_role, p.template) for p in world.published()} >= {("county_officer", "monthly_report_overdue")}


PREFECTURE_LI = Recipient("prefecture_officer", "5201", "pref-li", "李华", "13800000009")


def test_a_late_county_report_tells_the_prefecture_once_it_is_named(world):
    late = MonthlyReportOverdueV1(report_id=str(uuid.uuid4()), code=COUNTY, school_id=None, level="county",
                                  month="2025-10", due_on=date(2025, 11, 5), parent_code="5201", recorded_at=NOW)
    world.deliver(late)
    assert world.lines("monthly_report_overdue") == []  # nobody named at the prefecture yet: parked
    assert world.name(PREFECTURE_LI).delivered == 1
    [line] = world.lines("monthly_report_overdue")
    assert line["recipient_id"] == "pref-li" and f"县（区） {COUNTY}" in line["text"] and "李华同志" in line["text"]
    world.deliver(due("prefecture", "5201"))
    assert [x["recipient_id"] for x in world.lines("monthly_report_due")] == ["pref-li"]


def test_a_province_report_is_left_to_the_reporting_pages(world):
    world.deliver(due("province", "52"))
    assert world.lines("monthly_report_due") == []


def test_prefecture_officers_are_listed_at_prefecture_codes_only(world):
    from services.notifications.domain import DirectoryRuleBroken

    for bad in (Recipient("prefecture_officer", COUNTY, "p", "某"), Recipient("county_officer", "5201", "c", "某")):
        with pytest.raises(DirectoryRuleBroken):
            world.name(bad)
