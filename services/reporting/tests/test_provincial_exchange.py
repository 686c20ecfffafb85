"""Exchange with the provincial platform: the ledger in the mapping file's column layout (cells neutralised) and
the reconciliation of the platform's returned marks (疑似辍学标注) against the cases, with every difference listed."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from contracts.events.casework import CaseClosedV1
from services.reporting.adapters.exchange import MAPPING, Mapping
from services.reporting.bootstrap import api
from services.reporting.settings import ReportingSettings
from services.runtime.clock import FixedClock
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
TOWNSHIP = "520102001"
OFFICER = auth("county_officer", "520102")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def client(database_url, tmp_path_factory):
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    app, runtime = api(settings, clock=FixedClock(datetime(2025, 10, 8, 2, 0, tzinfo=timezone.utc)))
    with TestClient(app) as c:
        yield c
    runtime.close()


@pytest.fixture
def cases(feed):
    school = feed.school(TOWNSHIP, "=HYPERLINK(\"http://x\")")
    kids = {k: feed.student(school, TOWNSHIP) for k in ("open_marked", "open_unmarked", "closed_marked", "other")}
    opened = {k: feed.case(kids[k], school, TOWNSHIP, minutes=i) for i, k in enumerate(kids) if k != "other"}
    c = opened["closed_marked"]
    feed.deliver(CaseClosedV1(case_id=c.case_id, student_id=c.student_id, township_code=TOWNSHIP,
                              reason="record_error", evidence_count=1,
                              closed_at=datetime(2025, 10, 1, tzinfo=timezone.utc)), subject=c.case_id)
    return kids, opened


def marks_file(rows, header=("序号", "学生编号", "疑似辍学标注", "平台状态")) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["省级控辍保学平台 疑似辍学标注反馈"])
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_the_export_follows_the_mapping_file_and_neutralises_cells(client, cases):
    res = client.get("/v1/exchange/provincial/ledger", headers=OFFICER)
    assert res.status_code == 200 and res.headers["content-type"] == XLSX
    ws = load_workbook(io.BytesIO(res.content)).active
    spec = json.loads(MAPPING.read_text(encoding="utf-8"))
    rows = list(ws.iter_rows(values_only=True))
    assert "格式版本 2026-1" in rows[0][0]
    assert list(rows[1]) == [c["title"] for c in spec["export"]["columns"]]
    body = rows[2:]
    assert len(body) == 3 and [r[0] for r in body] == [1, 2, 3]
    school = rows[1].index("就读学校")
    assert all(r[school] == "'=HYPERLINK(\"http://x\")" for r in body)  # text, never a formula
    status = rows[1].index("当前状态")
    assert sorted(r[status] for r in body) == ["已销号", "疑似辍学", "疑似辍学"]
    assert all(c.data_type == "s" for line in ws.iter_rows(min_row=3) for c in line if isinstance(c.value, str))
    kids, _ = cases
    audited = client.get("/v1/audit/reads", params={"student_id": kids["open_marked"]},
                         headers=auth("auditor", "520102")).json()
    assert [a["view"] for a in audited] == ["provincial_export"]
    assert client.get("/v1/exchange/provincial/ledger", headers=auth("county_officer", "520103")).status_code == 200
    outside = load_workbook(io.BytesIO(client.get("/v1/exchange/provincial/ledger",
                                                  headers=auth("county_officer", "520103")).content)).active
    assert outside.max_row == 2  # another county's officer gets the headers only


def test_returned_marks_are_reconciled_with_every_difference_listed(client, cases):
    kids, opened = cases
    body = marks_file([
        (1, kids["open_marked"], "是", "劝返中"),     # marked, case open, but the platform's status differs
        (2, kids["closed_marked"], "是", "疑似辍学"),  # marked, the case is closed
        (3, "unknown-student", "是", None),          # marked, no case at all
        (4, kids["other"], "否", None),              # not marked, no case: agrees
    ])
    res = client.post("/v1/exchange/provincial/marks", content=body, headers={**OFFICER, "content-type": XLSX})
    assert res.status_code == 200, res.text
    r = res.json()
    assert (r["rows"], r["marked"], r["open_cases"]) == (4, 3, 2)
    assert {(d["student_id"], d["case_status"]) for d in r["marked_without_case"]} == {
        (kids["closed_marked"], "closed"), ("unknown-student", None)}
    assert [(d["student_id"], d["in_file"]) for d in r["case_not_marked"]] == [(kids["open_unmarked"], False)]
    [differs] = r["status_differs"]
    assert (differs["student_id"], differs["platform_status"], differs["expected_platform_status"]) == (
        kids["open_marked"], "劝返中", "疑似辍学")
    assert "name_masked" not in res.text and "id_number" not in res.text
    # another county: none of these cases are theirs, so every mark is "no case" and no case is unmarked
    other = client.post("/v1/exchange/provincial/marks", content=body,
                        headers={**auth("county_officer", "520103"), "content-type": XLSX}).json()
    assert len(other["marked_without_case"]) == 3 and other["case_not_marked"] == [] and other["open_cases"] == 0


def test_a_bad_marks_file_is_a_clear_422(client, cases):
    not_xlsx = client.post("/v1/exchange/provincial/marks", content=b"student_id,mark\n", headers=OFFICER)
    assert not_xlsx.status_code == 422 and not_xlsx.json()["detail"][0]["loc"] == ["body"]
    no_mark = client.post("/v1/exchange/provincial/marks", content=marks_file([], header=("学生编号", "备注")),
                          headers=OFFICER)
    assert no_mark.status_code == 422 and no_mark.json()["detail"][0]["loc"] == ["body", "疑似辍学标注"]
    bad_key = client.post("/v1/exchange/provincial/marks", content=marks_file([(1, "k" * 100, "是", None)]),
                          headers=OFFICER)
    assert bad_key.status_code == 422 and bad_key.json()["detail"][0]["loc"] == ["body", "row 3", "学生编号"]
    assert client.post("/v1/exchange/provincial/marks", content=b"", headers=OFFICER).status_code == 422


def test_a_mapping_with_an_unknown_formatter_is_refused_at_start():
    spec = json.loads(MAPPING.read_text(encoding="utf-8"))
    spec["export"]["columns"].append({"title": "x", "field": "status", "format": "nope"})
    with pytest.raises(ValueError, match="unknown formatter nope"):
        Mapping(spec)
