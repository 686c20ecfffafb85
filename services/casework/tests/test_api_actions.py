"""The casework API on PostgreSQL: acting on cases inside one's jurisdiction and role, rules named on refusal."""

import hashlib
import uuid

import pytest

from services.casework.tests.stories import unique_county
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
PROOF = {"kind": "enrolment_proof", "sha256": hashlib.sha256(b"x").hexdigest(), "location": "s3://e/1.pdf"}


def reported(client, county: str, student: str | None = None) -> str:
    village = f"{county}001001"
    body = {"student_id": student or str(uuid.uuid4()), "township_code": village, "note": "村里发现孩子未上学",
            "school_id": "school-1", "report_id": str(uuid.uuid4())}
    return client.post("/v1/cases", json=body, headers=auth("village_cadre", village)).json()["case_id"]


def test_a_forbidden_transition_is_a_409_naming_the_rule(api):
    client, _ = api
    county = unique_county()
    case_id = reported(client, county)
    refused = client.post(f"/v1/cases/{case_id}/legal-steps", headers=auth("school_staff", county),
                          json={"step": "return_notice", "document_no": "1号", "addressee": "父亲"})
    assert refused.status_code == 409
    assert refused.json()["detail"]["rule"] == "stage.take_legal_step"
    ok = client.post(f"/v1/cases/{case_id}/verification", headers=auth("head_teacher", county),
                     json={"outcome": "dropout", "causes": ["working_away"], "cause_analysis": "外出打工"})
    assert ok.status_code == 200 and ok.json()["stage"] == "persuading"
    justice = client.post(f"/v1/cases/{case_id}/legal-steps", headers=auth("justice_officer", county),
                          json={"step": "legal_documents", "document_no": "司法1号", "addressee": "父亲",
                                "override_reason": "紧急"})
    assert justice.status_code == 403 and justice.json()["detail"]["rule"] == "ladder.override_role"


def test_acting_on_a_case_outside_ones_jurisdiction_or_role_is_refused(api):
    client, _ = api
    case_id = reported(client, unique_county())
    elsewhere = client.post(f"/v1/cases/{case_id}/verification/start", headers=auth("county_officer", unique_county()))
    assert elsewhere.status_code == 403 and elsewhere.json()["detail"]["code"] == "out_of_jurisdiction"
    auditor = client.post(f"/v1/cases/{case_id}/verification/start", headers=auth("auditor", "52"))
    assert auditor.status_code == 403 and auditor.json()["detail"]["code"] == "forbidden_role"


def test_a_township_imports_its_map_as_csv_and_owners_see_their_queue(api):
    client, _ = api
    county = unique_county()
    township = f"{county}001"
    csv_text = "slot,school_id,user_id,name\nschool_leader,school-1,vp-" + county + ",陈副校长\n"
    imported = client.post(f"/v1/responsibility-maps/{township}/csv", content=csv_text.encode(),
                           headers={**auth("township_officer", township), "content-type": "text/csv"})
    assert imported.status_code == 200 and len(imported.json()["entries"]) == 1
    case_id = reported(client, county)
    case = client.get(f"/v1/cases/{case_id}", headers=auth("county_officer", county)).json()
    assert [o["user_id"] for o in case["owners"]] == [f"vp-{county}"]
    queue = client.get("/v1/queue", headers=auth("school_staff", county, user_id=f"vp-{county}")).json()
    assert [q["case_id"] for q in queue] == [case_id] and queue[0]["next_action"] == "start_verification"
    bad = client.post(f"/v1/responsibility-maps/{township}/csv", content=b"who,whom\n1,2\n",
                      headers={**auth("township_officer", township), "content-type": "text/csv"})
    assert bad.status_code == 422 and bad.json()["detail"]["rule"] == "map.csv_header"


def test_a_work_record_sent_twice_is_recorded_once_and_the_auditor_verifies_the_case(api):
    client, _ = api
    county = unique_county()
    case_id = reported(client, county)
    headers = {**auth("village_cadre", county), "Idempotency-Key": "visit-1"}
    body = {"visited_at": "2025-09-12T10:00:00+08:00", "visitors": ["cadre-1"], "met": ["祖母"],
            "findings": "孩子随父母外出", "evidence": [PROOF]}
    first = client.post(f"/v1/cases/{case_id}/visits", json=body, headers=headers)
    again = client.post(f"/v1/cases/{case_id}/visits", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert len(again.json()["records"]) == 1
    verified = client.get(f"/v1/cases/{case_id}/verify", headers=auth("auditor", county)).json()
    assert verified["intact"] is True and verified["version"] == 2
    store = client.get("/v1/audit/verify", headers=auth("auditor", "52")).json()
    assert store["intact"] is True and len(store["digest"]) == 64
    then = client.get(f"/v1/cases/{case_id}/as-of", params={"version": 1}, headers=auth("auditor", county)).json()
    assert then["records"] == [] and then["version"] == 1


def test_a_persuasion_names_where_and_with_whom_and_a_bad_code_is_a_422_naming_the_field(api):
    client, _ = api
    county = unique_county()
    case_id = reported(client, county)
    teacher = auth("head_teacher", county, user_id="ht-5")
    client.post(f"/v1/cases/{case_id}/verification", headers=teacher,
                json={"outcome": "dropout", "causes": ["poverty"], "cause_analysis": "家庭困难"})
    before = client.get(f"/v1/cases/{case_id}", headers=teacher).json()["version"]
    body = {"record_id": "p-1", "method": "home_visit", "outcome": "refused", "note": "父亲不同意",
            "persuaders": ["cadre-2"], "place": "home", "with_whom": ["father", "child"]}
    bad = client.post(f"/v1/cases/{case_id}/persuasions", headers=teacher, json={**body, "place": "moon"})
    assert bad.status_code == 422 and "place" in bad.text
    bad = client.post(f"/v1/cases/{case_id}/persuasions", headers=teacher, json={**body, "with_whom": ["cousin"]})
    assert bad.status_code == 422 and "with_whom" in bad.text
    assert client.get(f"/v1/cases/{case_id}", headers=teacher).json()["version"] == before  # nothing half-written
    for _ in range(2):  # the same submission twice is one record
        ok = client.post(f"/v1/cases/{case_id}/persuasions", headers=teacher, json=body)
        assert ok.status_code == 200, ok.text
    assert [r["kind"] for r in ok.json()["records"]] == ["persuasion"]
    history = client.get(f"/v1/cases/{case_id}/history", headers=teacher).json()
    [attempt] = [h for h in history if h["event"] == "PersuasionAttempted"]
    assert (attempt["data"]["persuaders"], attempt["data"]["place"], attempt["data"]["with_whom"]) == (
        ["ht-5", "cadre-2"], "home", ["child", "father"])
    outside = client.post(f"/v1/cases/{case_id}/persuasions", headers=auth("head_teacher", unique_county()),
                          json={**body, "record_id": "p-2"})
    assert outside.status_code in (403, 404)
