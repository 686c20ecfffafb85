"""Inspections (督导检查): findings, rectification with a deadline, reminders, a deadline that passes and
escalates to the level above (event + notification record), scopes, idempotency and the 通报 PDF."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pypdf
import pypdfium2
import pytest
from fastapi.testclient import TestClient

from services.reporting.bootstrap import api, inspections_for
from services.reporting.settings import ReportingSettings
from services.runtime.clock import FixedClock
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
TOWNSHIP, COUNTY = "520102001", "520102"
COUNTY_OFFICER = auth("county_officer", COUNTY)
TOWNSHIP_OFFICER = auth("township_officer", TOWNSHIP)
EVIDENCE = [{"sha256": "ab" * 32, "code": "photo"}]


def at(day: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, 2, 0, tzinfo=timezone.utc)  # 10:00 in China


@pytest.fixture(scope="module")
def stack(database_url, tmp_path_factory):
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    clock = FixedClock(at(1))
    app, runtime = api(settings, clock=clock)
    with TestClient(app) as c:
        yield c, clock, inspections_for(runtime, settings)
    runtime.close()


@pytest.fixture
def client(stack, feed, reporting_db):
    c, clock, _ = stack
    clock.set(at(1))
    with reporting_db.transaction() as conn:
        conn.execute("TRUNCATE inspection_findings, inspection_alerts, inspections_events")
    return c


def plan(client, key="spring", code=COUNTY, headers=COUNTY_OFFICER):
    return client.post("/v1/inspections", json={"key": key, "code": code, "title": "春季控辍保学专项督导",
                                                "planned_on": "2026-03-01"}, headers=headers)


def finding(client, iid, fid="f1", unit=TOWNSHIP, school=None, headers=COUNTY_OFFICER, **extra):
    body = {"finding_id": fid, "unit_code": unit, "school_id": school, "description_code": "owner_missing",
            "severity": "serious", "evidence": EVIDENCE, **extra}
    return client.post(f"/v1/inspections/{iid}/findings", json=body, headers=headers)


def step(client, iid, fid, what, headers=COUNTY_OFFICER, **body):
    return client.post(f"/v1/inspections/{iid}/findings/{fid}/{what}", json=body or None, headers=headers)


def test_rectification_is_ordered_reported_rejected_and_accepted(client):
    iid = plan(client).json()["inspection_id"]
    assert plan(client).json()["inspection_id"] == iid  # a retried plan is the same inspection
    assert finding(client, iid).status_code == 200
    assert finding(client, iid).status_code == 200  # the same finding again is harmless
    assert len(client.get(f"/v1/inspections/{iid}", headers=COUNTY_OFFICER).json()["findings"]) == 1
    changed = finding(client, iid, severity="grave")
    assert changed.status_code == 409 and changed.json()["detail"]["rule"] == "finding_once"

    assert step(client, iid, "f1", "order", deadline="2026-03-20").status_code == 200
    assert step(client, iid, "f1", "report", headers=TOWNSHIP_OFFICER, evidence=EVIDENCE).status_code == 200
    rejected = step(client, iid, "f1", "reject", reason_code="evidence_missing", new_deadline="2026-03-31")
    assert rejected.status_code == 200
    [f] = rejected.json()["findings"]
    assert (f["status"], f["deadline"]) == ("pending", "2026-03-31")
    assert step(client, iid, "f1", "report", headers=TOWNSHIP_OFFICER,
                evidence=[{"sha256": "cd" * 32, "code": "rectification_report"}]).status_code == 200
    accepted = step(client, iid, "f1", "accept")
    assert accepted.status_code == 200 and accepted.json()["findings"][0]["status"] == "accepted"
    assert step(client, iid, "f1", "accept").status_code == 200  # again: harmless
    actions = [h["action"] for h in accepted.json()["findings"][0]["history"]]
    assert actions == ["recorded", "ordered", "reported", "rejected", "reported", "accepted"]
    rows = client.get("/v1/inspections/findings", headers=COUNTY_OFFICER).json()["items"]
    assert [(r["status"], r["unit_code"]) for r in rows] == [("accepted", TOWNSHIP)]


def test_bad_input_names_the_field_and_writes_nothing(client):
    iid = plan(client).json()["inspection_id"]
    bad = finding(client, iid, description_code="bad_code")
    assert bad.status_code == 422 and bad.json()["detail"]["rule"] == "description_code"
    sha = finding(client, iid, evidence=[{"sha256": "xyz", "code": "photo"}])
    assert sha.status_code == 422 and sha.json()["detail"][0]["loc"][-1] == "sha256"
    outside = finding(client, iid, unit="520103001")
    assert outside.status_code == 422 and outside.json()["detail"]["rule"] == "unit_inside_inspection"
    no_key = client.post("/v1/inspections", json={"code": COUNTY, "title": "x", "planned_on": "2026-03-01"},
                         headers=COUNTY_OFFICER)
    assert no_key.status_code == 422 and no_key.json()["detail"][0]["loc"] == ["body", "key"]
    assert finding(client, iid).status_code == 200
    past = step(client, iid, "f1", "order", deadline="2026-03-01")
    assert past.status_code == 422 and past.json()["detail"]["rule"] == "deadline_future"
    assert client.get(f"/v1/inspections/{iid}", headers=COUNTY_OFFICER).json()["findings"][0]["status"] == "open"
    early = step(client, iid, "f1", "report", headers=TOWNSHIP_OFFICER, evidence=EVIDENCE)
    assert early.status_code == 409 and early.json()["detail"]["rule"] == "report_pending"


def test_a_deadline_that_passes_escalates_to_the_level_above(client, stack):
    _, clock, inspections = stack
    iid = plan(client).json()["inspection_id"]
    finding(client, iid, "late")
    finding(client, iid, "done", unit="520102002")
    step(client, iid, "late", "order", deadline="2026-03-10")
    step(client, iid, "done", "order", deadline="2026-03-10")

    clock.set(at(7))  # 3 days before: one reminder for both (the 7-day and 3-day steps at once)
    assert inspections.tick() == {"reminded": 2, "escalated": 0}
    assert inspections.tick() == {"reminded": 0, "escalated": 0}  # a second tick on the same day: nothing
    step(client, iid, "done", "report", headers=auth("township_officer", "520102002"), evidence=EVIDENCE)
    clock.set(at(10))  # the deadline's own day: not passed yet
    assert inspections.tick() == {"reminded": 1, "escalated": 0}
    clock.set(at(11))
    assert inspections.tick() == {"reminded": 0, "escalated": 1}
    assert inspections.tick() == {"reminded": 0, "escalated": 0}

    events = [type(n).__name__ for n in _stored(inspections, iid)]
    assert events.count("DeadlinePassed") == 1 and events.count("FindingEscalated") == 1
    assert events.count("RectificationReminded") == 3

    detail = client.get(f"/v1/inspections/{iid}", headers=COUNTY_OFFICER).json()
    late = next(f for f in detail["findings"] if f["finding_id"].endswith(":late"))
    done = next(f for f in detail["findings"] if f["finding_id"].endswith(":done"))
    assert (late["status"], late["escalated_to"]) == ("overdue", COUNTY)
    assert done["status"] == "reported" and done["escalated_to"] is None  # reported in time: no escalation

    alerts = client.get("/v1/inspections/alerts", headers=COUNTY_OFFICER).json()["items"]
    escalations = [a for a in alerts if a["kind"] == "escalation"]
    assert [(a["recipient_code"], a["finding_id"]) for a in escalations] == [(COUNTY, late["finding_id"])]
    township = client.get("/v1/inspections/alerts", headers=TOWNSHIP_OFFICER).json()["items"]
    assert {a["kind"] for a in township} == {"reminder", "overdue"}  # the unit hears of it too
    assert all(a["recipient_code"] == TOWNSHIP for a in township)
    late_step = step(client, iid, "late", "report", headers=TOWNSHIP_OFFICER, evidence=EVIDENCE)
    assert late_step.status_code == 409  # overdue: the level above acts now


def _stored(inspections, iid):
    aggregate_id = inspections._get(iid).id
    return list(inspections.app.repository.event_store.get(aggregate_id))


def test_scopes_outside_the_jurisdiction_are_refused(client):
    iid = plan(client).json()["inspection_id"]
    finding(client, iid)
    other_county = auth("county_officer", "520103")
    assert plan(client, key="x", headers=other_county).status_code == 403  # plans 520102: not theirs
    assert finding(client, iid, "f2", headers=other_county).status_code == 403
    assert step(client, iid, "f1", "order", headers=other_county, deadline="2026-03-20").status_code == 403
    assert client.get(f"/v1/inspections/{iid}", headers=other_county).status_code == 404
    assert client.get("/v1/inspections/findings", headers=other_county).json()["items"] == []
    assert client.get("/v1/inspections/notice", headers=other_county).json()["items"] == []
    step(client, iid, "f1", "order", deadline="2026-03-20")
    other_township = auth("township_officer", "520102002")
    assert step(client, iid, "f1", "report", headers=other_township, evidence=EVIDENCE).status_code == 403
    assert client.get(f"/v1/inspections/{iid}", headers=other_township).status_code == 404
    # a township inside the county sees its own findings only; it may not judge them
    assert len(client.get(f"/v1/inspections/{iid}", headers=TOWNSHIP_OFFICER).json()["findings"]) == 1
    assert client.post("/v1/inspections", json={"key": "t", "code": TOWNSHIP, "title": "x",
                                                "planned_on": "2026-03-01"}, headers=TOWNSHIP_OFFICER).status_code == 403
    assert step(client, iid, "f1", "accept", headers=TOWNSHIP_OFFICER).status_code == 403


def test_the_notice_prints_in_chinese_and_escapes_names(client, feed):
    school = feed.school(TOWNSHIP, "<b>第一中学</b>&amp;")
    iid = plan(client).json()["inspection_id"]
    finding(client, iid, "s1", school=school)
    step(client, iid, "s1", "order", deadline="2026-03-20")
    listing = client.get("/v1/inspections/notice", headers=COUNTY_OFFICER).json()
    assert listing["items"][0]["school_name"] == "<b>第一中学</b>&amp;"
    assert listing["counts"]["pending"] == 1
    pdf = client.get("/v1/inspections/notice", params={"format": "pdf"}, headers=COUNTY_OFFICER)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages).replace("\n", "")
    assert "控辍保学督导检查结果通报" in text and "劝返责任人未落实" in text and "整改中" in text
    assert "<b>第一中学</b>&amp;" in text  # as text, not markup
    fonts = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0]["/Resources"]["/Font"].values()
    assert any("/FontFile2" in f.get_object().get("/FontDescriptor", {}) for f in fonts)  # the Chinese font embedded
    page = pypdfium2.PdfDocument(pdf.content)[0]
    image = page.render(scale=1).to_pil()
    assert image.size[0] > 500 and len(set(image.convert("L").getdata())) > 2  # something was drawn
    staff = auth("school_staff", TOWNSHIP, schools=[school])
    assert len(client.get("/v1/inspections/findings", headers=staff).json()["items"]) == 1
    assert client.get("/v1/inspections/findings", headers=auth("school_staff", TOWNSHIP,
                                                                schools=["another"])).json()["items"] == []


