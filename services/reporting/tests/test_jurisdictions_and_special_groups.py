"""Division names valid over time (行政区划) and children's special groups (特殊群体) in dashboards and ledgers."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, timezone

import pytest
from fastapi.testclient import TestClient

from contracts.events import CaseOpenedV1
from contracts.events import registry as r
from services.reporting.bootstrap import api
from services.reporting.settings import ReportingSettings
from services.reporting.tests.conftest import T0
from services.runtime.clock import FixedClock
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
PROVINCE = auth("province_officer", "52")
TOWNSHIP = "520102001"
RECORDED = datetime(2025, 9, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def client(database_url, tmp_path_factory):
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    app, runtime = api(settings, clock=FixedClock(datetime(2026, 3, 1, 4, 0, tzinfo=timezone.utc)))
    with TestClient(app) as c:
        yield c
    runtime.close()


def register(feed, code: str, name: str, level: str, parent: str | None) -> None:
    feed.deliver(r.JurisdictionRegisteredV1(code=code, name=name, level=level, parent_code=parent,
                                            effective_from=date(2025, 1, 1)), subject=f"d:{code}", at=RECORDED)


def school(feed, township: str) -> str:
    school_id = str(uuid.uuid4())
    feed.deliver(r.SchoolRegisteredV1(school_id=school_id, code=school_id[:8], name="第一中学", level="junior",
                                      county_code=township[:6], township_code=township), at=RECORDED)
    return school_id


def student(feed, school_id: str, township: str) -> str:
    student_id = str(uuid.uuid4())
    feed.deliver(r.StudentEnrolledV1(student_id=student_id, school_id=school_id, county_code=township[:6],
                                     township_code=township, grade=7, class_name="7(1)班", name_masked="张*丰",
                                     id_number_masked=township[:6] + "********1234"), at=RECORDED)
    return student_id


def case(feed, student_id: str, school_id: str) -> None:
    feed.deliver(CaseOpenedV1(case_id=str(uuid.uuid4()), student_id=student_id, school_id=school_id,
                              township_code=TOWNSHIP, source="attendance", trigger_id=str(uuid.uuid4()),
                              opened_at=T0), at=T0)


@pytest.fixture
def nanming(feed):
    """南明区 with one township, a school and a pupil, its names loaded from the registry's code list."""
    register(feed, "520000", "贵州省", "province", None)
    register(feed, "520100", "贵阳市", "prefecture", "520000")
    register(feed, "520102", "南明区", "county", "520100")
    register(feed, TOWNSHIP, "花果园街道", "township", "520102")
    school_id = school(feed, TOWNSHIP)
    return school_id, student(feed, school_id, TOWNSHIP)


def township_name(client, **params) -> str:
    body = client.get("/v1/dashboard/520102", params=params, headers=PROVINCE).json()
    (child,) = body["children"]
    return child["name"]


def test_a_township_renamed_on_a_date_shows_its_old_name_before_and_the_new_one_after(client, feed, nanming):
    feed.deliver(r.JurisdictionChangedV1(code=TOWNSHIP, kind="renamed", name="新华街道", effective=date(2025, 10, 1)),
                 subject=f"d:{TOWNSHIP}", at=datetime(2025, 9, 20, 2, 0, tzinfo=timezone.utc))  # decided ahead

    assert township_name(client, as_of="2025-09-10") == "花果园街道"  # before anyone knew of the rename
    assert township_name(client, as_of="2025-09-30") == "花果园街道"  # known, not yet in force
    assert township_name(client, as_of="2025-10-01") == "新华街道"
    assert township_name(client) == "新华街道"
    crumbs = client.get(f"/v1/dashboard/{TOWNSHIP}", headers=PROVINCE).json()["breadcrumbs"]
    assert [c["name"] for c in crumbs] == ["贵州省", "贵阳市", "南明区", "新华街道"]
    assert [c["code"] for c in crumbs] == ["52", "5201", "520102", TOWNSHIP]
    older = client.get(f"/v1/dashboard/{TOWNSHIP}", params={"as_of": "2025-09-30"}, headers=PROVINCE).json()
    assert older["name"] == "花果园街道" and older["breadcrumbs"][-1]["name"] == "花果园街道"


def test_a_code_nobody_named_shows_as_its_code(client, feed):
    student(feed, school(feed, "520103001"), "520103001")
    body = client.get("/v1/dashboard/520103", headers=PROVINCE).json()
    assert body["name"] == "县（区） 520103" and body["division_name"] is None


def test_ledgers_and_exports_carry_county_and_township_names_valid_then(client, feed, nanming):
    school_id, student_id = nanming
    case(feed, student_id, school_id)
    feed.deliver(r.JurisdictionChangedV1(code=TOWNSHIP, kind="renamed", name="新华街道", effective=date(2026, 1, 1)),
                 subject=f"d:{TOWNSHIP}", at=RECORDED)
    row = client.get("/v1/ledgers/cases", headers=PROVINCE).json()["items"][0]
    assert (row["county_code"], row["county_name"], row["township_name"]) == ("520102", "南明区", "新华街道")
    then = client.get("/v1/ledgers/cases", params={"as_of": "2025-12-31"}, headers=PROVINCE).json()["items"][0]
    assert then["township_name"] == "花果园街道"
    lines = list(csv.reader(io.StringIO(client.get("/v1/ledgers/cases/export", headers=PROVINCE)
                                        .content.decode("utf-8-sig"))))
    header, first = lines[1], lines[2]
    assert first[header.index("县（区）")] == "南明区" and first[header.index("乡镇（街道）代码")] == TOWNSHIP


def test_the_bi_dimension_has_each_name_with_its_validity(client, feed, nanming):
    feed.deliver(r.JurisdictionChangedV1(code=TOWNSHIP, kind="renamed", name="新华街道", effective=date(2026, 1, 1)),
                 subject=f"d:{TOWNSHIP}", at=RECORDED)
    feed.deliver(r.JurisdictionChangedV1(code=TOWNSHIP, kind="merged", successor_code="520102002",
                                         effective=date(2026, 2, 1)), subject=f"d:{TOWNSHIP}", at=RECORDED)
    rows = client.get("/v1/bi/dim_jurisdiction", headers=PROVINCE).json()["items"]
    township = [(x["name"], x["valid_from"], x["valid_to"], x["end_kind"]) for x in rows
                if x["jurisdiction_code"] == TOWNSHIP]
    assert township == [("花果园街道", "2025-01-01", "2026-01-01", "merged"),
                        ("新华街道", "2026-01-01", "2026-02-01", "merged")]
    province = [x for x in rows if x["jurisdiction_code"] == "52"][0]
    assert (province["name"], province["level"], province["parent_code"]) == ("贵州省", "province", None)
    assert [x["parent_code"] for x in rows if x["jurisdiction_code"] == "5201"] == ["52"]


def groups(student_id: str, *codes: str, until: date | None = None) -> r.SpecialGroupsChangedV1:
    return r.SpecialGroupsChangedV1(student_id=student_id, township_code=TOWNSHIP, groups=[
        r.SpecialGroup(group=c, since=date(2025, 7, 10), until=until, source="civil_affairs") for c in codes])


def test_a_left_behind_childs_open_case_counts_in_the_special_group_measures(client, feed, nanming):
    school_id, left_behind = nanming
    other = student(feed, school_id, TOWNSHIP)
    feed.deliver(groups(left_behind, "left_behind"), subject=f"child:{left_behind}", at=RECORDED)
    feed.deliver(groups(other, "orphan", until=date(2025, 8, 1)), subject=f"child:{other}", at=RECORDED)  # ended
    case(feed, left_behind, school_id)
    case(feed, other, school_id)

    figures = client.get("/v1/dashboard/52", headers=PROVINCE).json()["figures"]
    assert figures["special_groups_enrolled"] == {"left_behind": 1}
    assert figures["special_groups_open_cases"] == {"left_behind": 1}
    assert (figures["special_group_enrolled"], figures["special_group_open_cases"]) == (1, 1)
    early = client.get("/v1/dashboard/52", params={"as_of": "2025-09-01"}, headers=PROVINCE).json()["figures"]
    assert early["special_groups_enrolled"] == {"left_behind": 1}  # known then, the orphan status already over

    children = client.get("/v1/ledgers/children", params={"code": TOWNSHIP}, headers=PROVINCE).json()["items"]
    assert {x["student_id"]: x["special_groups"] for x in children}[left_behind] == "left_behind"
    export = client.get("/v1/ledgers/cases/export", headers=PROVINCE).content.decode("utf-8-sig")
    assert "留守儿童" in export


def test_the_suspected_dropout_ledger_shows_groups_as_chinese_labels(client, feed, nanming):
    _, student_id = nanming
    feed.deliver(groups(student_id, "left_behind", "registered_poor"), subject=f"child:{student_id}", at=RECORDED)
    feed.deliver(r.TransitionMissedV1(finding_id=str(uuid.uuid4()), student_id=student_id, school_id=None,
                                      township_code=TOWNSHIP, reason_code="no_junior_registration",
                                      graduated_on=date(2025, 7, 1)), at=T0)
    page = client.get("/v1/ledgers/suspected", params={"special_group": "left_behind"}, headers=PROVINCE).json()
    assert page["total"] == 1 and page["items"][0]["special_groups"] == "left_behind,registered_poor"
    lines = list(csv.reader(io.StringIO(client.get("/v1/ledgers/suspected/export", headers=PROVINCE)
                                        .content.decode("utf-8-sig"))))
    assert lines[2][lines[1].index("特殊群体")] == "留守儿童、建档立卡"
    assert lines[2][lines[1].index("乡镇（街道）")] == "花果园街道"
