"""A ledger export and a case timeline are recorded in the read audit, one row per child shown."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from services.reporting.bootstrap import api
from services.reporting.settings import ReportingSettings
from services.runtime.auth import ROLES
from services.runtime.clock import FixedClock
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
COUNTY = "520130"
OFFICER = auth("county_officer", COUNTY, user_id="officer-rr")


@pytest.fixture(scope="module")
def client(database_url, tmp_path_factory):
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    app, runtime = api(settings, clock=FixedClock(datetime(2026, 3, 1, 4, 0, tzinfo=timezone.utc)))
    with TestClient(app) as c:
        yield c
    runtime.close()


def test_an_export_records_every_child_it_shows_and_a_timeline_its_case(client, feed):
    township = f"{COUNTY}001"
    school = feed.school(township)
    students = [feed.student(school, township) for _ in range(3)]
    cases = [feed.case(s, school, township, minutes=i) for i, s in enumerate(students)]
    elsewhere = feed.case(feed.student(feed.school("520131001"), "520131001"), None, "520131001")
    export = client.get("/v1/ledgers/cases/export", params={"format": "csv"},
                        headers={**OFFICER, "X-Access-Purpose": "supervision"})
    assert export.status_code == 200
    assert client.get(f"/v1/cases/{cases[0].case_id}/timeline", headers=OFFICER).status_code == 200

    auditor = auth("auditor", COUNTY)
    rows = client.get("/v1/audit/reads", params={"actor_id": "officer-rr"}, headers=auditor).json()
    exported = [r for r in rows if r["view"] == "ledger_export:cases"]
    assert sorted(r["case_id"] for r in exported) == sorted(c.case_id for c in cases)
    assert {(r["purpose"], r["actor_role"]) for r in exported} == {("supervision", "county_officer")}
    [timeline] = [r for r in rows if r["view"] == "case_timeline"]
    assert (timeline["student_id"], timeline["purpose"]) == (students[0], "supervision")
    assert all(r["case_id"] != elsewhere.case_id for r in rows)
    assert client.get("/v1/audit/reads", params={"case_id": cases[0].case_id},
                      headers=auth("auditor", "520131")).json() == []


def test_a_ledger_page_records_the_children_on_it(client, feed):
    township = f"{COUNTY}002"
    school = feed.school(township)
    student = feed.student(school, township)
    case = feed.case(student, school, township)
    page = client.get("/v1/ledgers/cases", params={"township_code": township}, headers=OFFICER)
    assert page.status_code == 200 and [i["case_id"] for i in page.json()["items"]] == [case.case_id]
    rows = client.get("/v1/audit/reads", params={"case_id": case.case_id}, headers=auth("auditor", COUNTY)).json()
    assert [(r["view"], r["purpose"], r["student_id"]) for r in rows] == [("ledger:cases", "reporting", student)]


def test_no_role_of_another_county_reads_a_case_school_or_unit_of_this_one(client, feed):
    township = f"{COUNTY}003"
    school = feed.school(township)
    case = feed.case(feed.student(school, township), school, township)
    urls = [f"/v1/cases/{case.case_id}/timeline", f"/v1/dashboard/{COUNTY}", f"/v1/dashboard/{township}",
            f"/v1/dashboard/{township}/schools/{school}", f"/v1/dashboard/counties/{COUNTY}",
            f"/v1/ledgers/cases?township_code={township}", f"/v1/ledgers/cases/export?county_code={COUNTY}"]
    for role in (r for r in ROLES if r != "admin"):
        headers = auth(role, "520131", user_id=f"{role}-x", schools=[school])
        for url in urls:
            assert client.get(url, headers=headers).status_code in (403, 404), (role, url)
    assert client.get("/v1/audit/reads", params={"case_id": case.case_id}, headers=auth("auditor", COUNTY)).json() == []
