"""Dashboards add up level by level at one event position; ledgers filter, sort, page, export and travel in time."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from bench.reporting import synthetic
from services.reporting.adapters.dashboards import COUNTS
from services.reporting.bootstrap import api
from services.reporting.settings import ReportingSettings
from services.runtime.clock import FixedClock
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
PROVINCE = auth("province_officer", "52")
NOW = datetime(2026, 3, 1, 4, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def client(database_url, tmp_path_factory):
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"),
                                 reporting_targets={"": {"dropout_rate_primary": 0.01, "dropout_rate_junior": 0.02,
                                                         "return_rate": 1.0}, "5202": {"return_rate": 0.9}})
    app, runtime = api(settings, clock=FixedClock(NOW))
    with TestClient(app) as c:
        yield c
    runtime.close()


@pytest.fixture
def province(feed):
    feed.history(synthetic.history(seed=11, prefectures=2, counties=2, townships=2, schools=2, students=15))


def test_every_level_is_the_sum_of_the_levels_below_at_the_same_positions(client, province):
    def check(path: str, depth: int) -> None:
        body = client.get(path, headers=PROVINCE).json()
        assert body["positions"]["topics"] and body["positions"]["partitions"]
        children = body["children"]
        assert children, path
        for measure in COUNTS:
            assert body["figures"][measure] == sum(c["figures"][measure] for c in children), (path, measure)
        for c in children:
            child = (f"/v1/dashboard/{c['code']}/schools/{c['school_id']}" if c["level"] == "school"
                     else f"/v1/dashboard/{c['code']}")
            if c["level"] != "school" and depth < 4:
                check(child, depth + 1)
            else:
                alone = client.get(child, headers=PROVINCE).json()
                assert alone["figures"] == c["figures"] and alone["positions"] == body["positions"]

    top = client.get("/v1/dashboard/52", headers=PROVINCE).json()
    assert top["figures"]["enrolled"] == 2 * 2 * 2 * 2 * 15
    assert top["figures"]["cases"] > 0 and top["figures"]["returned"] > 0
    check("/v1/dashboard/52", 1)


def test_targets_are_configured_per_jurisdiction_prefix(client, province):
    assert client.get("/v1/dashboard/5201", headers=PROVINCE).json()["figures"]["targets"]["return_rate"] == 1.0
    assert client.get("/v1/dashboard/5202", headers=PROVINCE).json()["figures"]["targets"]["return_rate"] == 0.9


def test_a_township_officer_sees_only_the_township(client, province):
    body = client.get("/v1/dashboard/52", headers=auth("township_officer", "520101001")).json()
    only = client.get("/v1/dashboard/520101001", headers=auth("county_officer", "520101")).json()
    assert body["figures"]["enrolled"] == only["figures"]["enrolled"] == 2 * 15
    assert client.get("/v1/dashboard/520102", headers=auth("county_officer", "520101")).status_code == 403


def test_the_case_ledger_filters_sorts_pages_and_masks(client, province):
    all_ = client.get("/v1/ledgers/cases", params={"page_size": 200}, headers=PROVINCE).json()
    returned = client.get("/v1/ledgers/cases", params={"status": "returned", "sort": "township_code"},
                          headers=PROVINCE).json()
    assert 0 < returned["total"] < all_["total"]
    assert [r["township_code"] for r in returned["items"]] == sorted(r["township_code"] for r in returned["items"])
    row = returned["items"][0]
    assert "*" in row["name_masked"] and "********" in row["id_number_masked"]
    assert row["gov_owners"].startswith("township=") and row["edu_owners"].startswith("head_teacher=")
    page2 = client.get("/v1/ledgers/cases", params={"page": 2, "page_size": 5}, headers=PROVINCE).json()
    assert [r["case_id"] for r in page2["items"]] == [r["case_id"] for r in all_["items"][5:10]]
    cause = client.get("/v1/ledgers/cases", params={"cause": "poverty"}, headers=PROVINCE).json()
    assert cause["total"] and all("poverty" in r["causes"] for r in cause["items"])
    assert client.get("/v1/ledgers/cases", params={"sort": "name"}, headers=PROVINCE).status_code == 422


def test_children_and_suspected_ledgers(client, province):
    children = client.get("/v1/ledgers/children", params={"code": "520101"}, headers=PROVINCE).json()
    assert children["total"] == 2 * 2 * 15 and {r["enrolment"] for r in children["items"]} == {"enrolled"}
    suspected = client.get("/v1/ledgers/suspected", params={"status": "retracted"}, headers=PROVINCE).json()
    assert suspected["total"] > 0 and all(r["case_id"] is None for r in suspected["items"])


def test_exports_in_csv_and_xlsx_carry_the_positions(client, province):
    total = client.get("/v1/ledgers/cases", headers=PROVINCE).json()["total"]
    r = client.get("/v1/ledgers/cases/export", params={"format": "csv"}, headers=PROVINCE)
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert "事件位置" in lines[0][0] and lines[1][:3] == ["个案编号", "姓名", "身份证号"]
    assert len(lines) == total + 2
    x = client.get("/v1/ledgers/cases/export", params={"format": "xlsx", "status": "returned"}, headers=PROVINCE)
    sheet = load_workbook(io.BytesIO(x.content)).active
    stage = [c.value for c in sheet[2]].index("阶段") + 1
    assert sheet.cell(3, stage).value == "已复学·跟踪中"


def test_the_ledger_and_a_case_as_of_a_past_date(client, province):
    now = client.get("/v1/ledgers/cases", params={"status": "returned", "page_size": 1}, headers=PROVINCE).json()
    case = now["items"][0]
    back = client.get(f"/v1/cases/{case['case_id']}/timeline", headers=PROVINCE).json()
    steps = back["steps"]
    opened_day = date.fromisoformat(steps[0]["recorded_at"][:10])
    then = client.get(f"/v1/cases/{case['case_id']}/timeline", params={"as_of": opened_day.isoformat()},
                      headers=PROVINCE).json()
    assert then["case"]["status"] in ("suspected", "confirmed") and len(then["steps"]) < len(steps)
    assert then["positions"]["requested_at"] is not None
    before = client.get("/v1/ledgers/cases", params={"as_of": "2025-09-01"}, headers=PROVINCE).json()
    assert before["total"] == 0
    past = client.get("/v1/dashboard/52", params={"as_of": "2025-09-20"}, headers=PROVINCE).json()
    live = client.get("/v1/dashboard/52", headers=PROVINCE).json()
    assert past["figures"]["cases"] < live["figures"]["cases"]
    assert past["positions"]["as_of_time"] < live["positions"]["as_of_time"]


def test_owners_are_shown_in_chinese_with_their_line_beside_the_stored_slots(client, feed):
    from contracts.events.casework import CaseOwnersAssignedV1, OwnerChange

    township = "520102001"
    school = feed.school(township)
    case = feed.case(feed.student(school, township), school, township)
    feed.deliver(CaseOwnersAssignedV1(case_id=case.case_id, township_code=township, automatic=True,
                                      assigned_at=NOW, owners=[
        OwnerChange(slot="village", line="government", user_id="vil-7"),
        OwnerChange(slot="township", line="government", user_id="gov-001"),
        OwnerChange(slot="head_teacher", line="education", user_id="ht-f9a0")]))
    shown = "政府线 乡镇干部：gov-001、村干部：vil-7；教育线 班主任：ht-f9a0"

    # The JSON keeps the structured slots as stored and adds what people read.
    for path in ("/v1/ledger", "/v1/ledgers/cases"):
        row = client.get(path, headers=PROVINCE).json()["items"][0]
        assert (row["gov_owners"], row["edu_owners"]) == ("township=gov-001;village=vil-7", "head_teacher=ht-f9a0")
        assert row["gov_owners_display"] == "政府线 乡镇干部：gov-001、村干部：vil-7"
        assert row["edu_owners_display"] == "教育线 班主任：ht-f9a0" and row["owners_display"] == shown
    timeline = client.get(f"/v1/cases/{case.case_id}/timeline", headers=PROVINCE).json()["case"]
    assert timeline["owners_display"] == shown and timeline["gov_owners"] == "township=gov-001;village=vil-7"

    # Both exports show the owners in Chinese, never the raw slots.
    lines = list(csv.reader(io.StringIO(client.get("/v1/ledgers/cases/export", params={"format": "csv"},
                                                   headers=PROVINCE).content.decode("utf-8-sig"))))
    column = lines[1].index("劝返责任人")
    assert lines[2][column] == shown and not any("=" in cell for cell in lines[2])
    sheet = load_workbook(io.BytesIO(client.get("/v1/ledgers/cases/export", params={"format": "xlsx"},
                                                headers=PROVINCE).content)).active
    assert sheet.cell(3, [c.value for c in sheet[2]].index("劝返责任人") + 1).value == shown

    # A case nobody owns yet shows nothing rather than an empty label.
    feed.case(feed.student(school, township), school, township, minutes=5)
    fresh = [r for r in client.get("/v1/ledgers/cases", headers=PROVINCE).json()["items"] if r["case_id"] != case.case_id]
    assert (fresh[0]["owners_display"], fresh[0]["gov_owners_display"], fresh[0]["gov_owners"]) == (None, None, None)
