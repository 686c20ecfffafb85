"""The casework API on PostgreSQL: who may see and report which cases."""

import uuid

import pytest

from contracts.events import SuspectedDropoutDetectedV1
from services.casework.entrypoints.consumers import policies
from services.casework.tests.stories import detection, unique_county
from services.runtime.consumer import EventSink
from services.runtime.testing import auth, message

pytestmark = pytest.mark.integration


def open_case(app, township_code: str) -> str:
    """A case opened by the consumer from an attendance detection; returns its id."""
    msg = message(detection(township_code=township_code))
    EventSink(app).apply(f"casework:{uuid.uuid4()}:0", msg.envelope.sequence, policies(app)[SuspectedDropoutDetectedV1], msg)
    [summary] = [c for c in app.queries.cases_for_jurisdiction(township_code) if c.student_id == msg.payload.student_id]
    return summary.case_id


def test_without_a_token_nothing_is_shown(api):
    client, _ = api
    assert client.get("/v1/cases").status_code == 401
    assert client.get(f"/v1/cases/{uuid.uuid4()}").status_code == 401
    assert client.post("/v1/cases", json={}).status_code == 401


def test_a_case_is_shown_inside_its_county_and_refused_outside(api):
    client, app = api
    county, elsewhere = unique_county(), unique_county()
    case_id = open_case(app, f"{county}001")
    shown = client.get(f"/v1/cases/{case_id}", headers=auth("county_officer", county))
    assert shown.status_code == 200
    assert shown.json()["stage"] == "suspected" and shown.json()["source"] == "attendance"
    refused = client.get(f"/v1/cases/{case_id}", headers=auth("county_officer", elsewhere))
    assert refused.status_code == 403
    assert refused.json()["detail"]["code"] == "out_of_jurisdiction"


def test_an_unknown_case_is_not_found(api):
    client, _ = api
    missing = client.get(f"/v1/cases/{uuid.uuid4()}", headers=auth("county_officer", "52"))
    assert missing.status_code == 404
    assert missing.json()["detail"]["rule"] == "case_exists"


def test_the_list_is_scoped_to_the_callers_jurisdiction_and_paged(api):
    client, app = api
    county = unique_county()
    mine = {open_case(app, f"{county}001"), open_case(app, f"{county}001"), open_case(app, f"{county}002")}
    open_case(app, f"{unique_county()}001")
    headers = auth("county_officer", county)
    first = client.get("/v1/cases", params={"limit": 2}, headers=headers).json()
    rest = client.get("/v1/cases", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers).json()
    assert {c["case_id"] for c in first["items"] + rest["items"]} == mine
    assert rest["next_cursor"] is None
    township = client.get("/v1/cases", params={"township_code": f"{county}002", "stage": "suspected"}, headers=headers)
    assert [c["township_code"] for c in township.json()["items"]] == [f"{county}002"]
    wider = client.get("/v1/cases", params={"township_code": "52"}, headers=headers).json()
    assert {c["case_id"] for c in wider["items"]} == mine
    assert client.get("/v1/cases", params={"township_code": "110101"}, headers=headers).status_code == 403


def test_a_village_cadre_reports_a_child_once_however_often_the_request_is_sent(api):
    client, _ = api
    village = unique_county() + "001001"
    headers = {**auth("village_cadre", village, user_id="cadre-1"), "Idempotency-Key": "visit-2025-09-11"}
    body = {"student_id": str(uuid.uuid4()), "township_code": village, "note": "家访发现孩子在家务农"}
    first = client.post("/v1/cases", json=body, headers=headers)
    again = client.post("/v1/cases", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["outcome"] == "duplicate"
    assert first.json()["case_id"] == again.json()["case_id"]
    case = first.json()["case"]
    assert case["source"] == "report" and case["opened_at"].startswith("2025-09-11T02:00")
    assert first.headers["Location"] == f"/v1/cases/{case['case_id']}"


def test_a_report_needs_an_idempotency_key_a_reporting_role_and_a_place_in_the_callers_area(api):
    client, _ = api
    village = unique_county() + "001001"
    body = {"student_id": "s-1", "township_code": village, "note": "n"}
    assert client.post("/v1/cases", json=body, headers=auth("village_cadre", village)).status_code == 400
    keyed = {"Idempotency-Key": "k-1"}
    assert client.post("/v1/cases", json=body, headers={**auth("auditor", village), **keyed}).status_code == 403
    other = {**body, "township_code": unique_county() + "001001"}
    assert client.post("/v1/cases", json=other, headers={**auth("village_cadre", village), **keyed}).status_code == 403
    bad = {**body, "township_code": "5201"}
    assert client.post("/v1/cases", json=bad, headers={**auth("village_cadre", "52"), **keyed}).status_code == 422


def test_the_history_shows_every_event_with_its_actor_and_time(api):
    client, _app = api
    county = unique_county()
    village = f"{county}001001"
    reported = client.post(
        "/v1/cases",
        json={"student_id": str(uuid.uuid4()), "township_code": village, "note": "辍学外出", "report_id": str(uuid.uuid4())},
        headers=auth("village_cadre", village, user_id="cadre-7"),
    ).json()
    history = client.get(f"/v1/cases/{reported['case_id']}/history", headers=auth("auditor", county))
    assert history.status_code == 200
    [opened] = history.json()
    assert (opened["event"], opened["actor_id"], opened["actor_role"]) == ("Opened", "cadre-7", "village_cadre")
    assert opened["at"].startswith("2025-09-11T02:00") and opened["data"]["evidence"] == {"note": "辍学外出"}
    assert client.get(f"/v1/cases/{reported['case_id']}/history", headers=auth("auditor", unique_county())).status_code == 403
