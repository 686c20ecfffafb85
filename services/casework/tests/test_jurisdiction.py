"""Jurisdiction is checked against the case and the child themselves, never only against what a request says."""

import uuid

import psycopg
import pytest

from contracts.events.registry import DisabledChildPlacedV1, StudentEnrolledV1
from services.casework.tests.builders import deliver, opened_case
from services.casework.tests.stories import unique_county
from services.runtime.testing import auth

pytestmark = pytest.mark.integration


def enrolled(student_id: str, township_code: str) -> StudentEnrolledV1:
    """The registry's word that the child is registered at a school of that township."""
    return StudentEnrolledV1(student_id=student_id, school_id=str(uuid.uuid4()), county_code=township_code[:6],
                             township_code=township_code, grade=5, class_name="5-1", name_masked="张*丰",
                             id_number_masked="520102********123X", head_teacher_id="ht-b",
                             head_teacher_name="李老师")


def test_an_auditor_of_one_county_cannot_verify_another_countys_case(api):
    client, app = api
    mine, theirs = unique_county(), unique_county()
    case = opened_case(app, township_code=f"{theirs}001")
    refused = client.get(f"/v1/cases/{case.id}/verify", headers=auth("auditor", mine))
    assert refused.status_code == 403
    assert refused.json()["detail"]["code"] == "out_of_jurisdiction" and "head" not in refused.json()
    shown = client.get(f"/v1/cases/{case.id}/verify", headers=auth("auditor", theirs))
    assert shown.status_code == 200 and shown.json()["intact"] is True


def test_a_case_whose_opening_is_unreadable_is_verified_only_store_wide(api, casework_settings):
    client, app = api
    county = unique_county()
    case = opened_case(app, township_code=f"{county}001")
    where = "WHERE originator_id = %s AND originator_version = 1"
    with psycopg.connect(casework_settings.database_url, autocommit=True) as conn:
        [(state,)] = conn.execute(f"SELECT state FROM casework.casework_events {where}", (case.id,)).fetchall()
        conn.execute(f"UPDATE casework.casework_events SET state = 'garbage'::bytea {where}", (case.id,))
        try:
            assert client.get(f"/v1/cases/{case.id}/verify", headers=auth("auditor", county)).status_code == 403
            province = client.get(f"/v1/cases/{case.id}/verify", headers=auth("auditor", "52"))
            assert province.status_code == 200
            assert [p["problem"] for p in province.json()["problems"]] == ["undecodable"]
            store = client.get("/v1/audit/verify", headers=auth("auditor", county)).json()
            assert store["cases"] == 0 and store["problems_elsewhere"] == 1
        finally:  # other tests verify the whole store of this shared database
            conn.execute(f"UPDATE casework.casework_events SET state = %s {where}", (state, case.id))


def test_the_store_verification_shows_a_county_auditor_only_its_own_cases_and_their_digest(api):
    client, app = api
    mine, theirs = unique_county(), unique_county()
    own = [opened_case(app, township_code=f"{mine}001"), opened_case(app, township_code=f"{mine}002")]
    opened_case(app, township_code=f"{theirs}001")
    county = client.get("/v1/audit/verify", headers=auth("auditor", mine)).json()
    province = client.get("/v1/audit/verify", headers=auth("auditor", "52")).json()
    assert county["scope"] == mine and county["cases"] == 2 and county["events"] == 2
    assert county["digest"] != province["digest"] and province["cases"] > 2
    again = client.get("/v1/audit/verify", params={"expected_digest": county["digest"]},
                       headers=auth("county_officer", mine)).json()
    assert again["matches_expected"] is True and again["cases"] == len(own)


def test_a_report_for_a_child_registered_in_another_county_is_refused(api):
    client, app = api
    here, there = unique_county(), unique_county()
    student = str(uuid.uuid4())
    deliver(app, enrolled(student, f"{there}001"))
    village = f"{here}001001"
    body = {"student_id": student, "township_code": village, "note": "村里发现孩子未上学", "report_id": str(uuid.uuid4())}
    refused = client.post("/v1/cases", json=body, headers=auth("village_cadre", village))
    assert refused.status_code == 403
    assert refused.json()["detail"]["rule"] == "report.child_registered_elsewhere"
    assert app.queries.cases_for_jurisdiction(here) == []
    at_home = {**body, "township_code": f"{there}001001", "report_id": str(uuid.uuid4())}
    opened = client.post("/v1/cases", json=at_home, headers=auth("village_cadre", f"{there}001001"))
    assert opened.status_code == 201 and opened.json()["case"]["owners"][0]["user_id"] == "ht-b"


def test_a_report_does_not_join_a_case_open_in_another_county(api):
    client, app = api
    here, there = unique_county(), unique_county()
    case = opened_case(app, township_code=f"{there}001")
    village = f"{here}001001"
    body = {"student_id": case.student_id, "township_code": village, "note": "村里发现孩子未上学",
            "report_id": str(uuid.uuid4())}
    refused = client.post("/v1/cases", json=body, headers=auth("village_cadre", village))
    assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "report.case_elsewhere"
    assert str(case.id) not in refused.text
    assert app.queries.case(case.id).trigger_ids == [case.trigger_id]


def test_a_child_placed_at_a_school_of_another_county_is_reported_there(api):
    client, app = api
    before, after = unique_county(), unique_county()
    student = str(uuid.uuid4())
    deliver(app, enrolled(student, f"{before}001"))
    deliver(app, DisabledChildPlacedV1(student_id=student, school_id=str(uuid.uuid4()), township_code=f"{after}001",
                                       placement="special_school", on="2025-09-01"), aggregateversion=2)

    def report(county: str) -> int:
        village = f"{county}001001"
        return client.post("/v1/cases", headers=auth("village_cadre", village), json={
            "student_id": student, "township_code": village, "note": "送教上门未落实", "report_id": str(uuid.uuid4())
        }).status_code

    assert report(before) == 403
    assert report(after) == 201
