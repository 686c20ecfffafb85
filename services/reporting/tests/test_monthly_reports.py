"""Monthly reports: sealed at month end, never changed; later corrections appear as restatements; approval
goes bottom-up (a parent only after all its children)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from contracts.events import AbsenceRecordedV1, CaseOpenedV1, SuspectedDropoutDetectedV1
from contracts.events.casework import CaseClosedV1
from services.reporting.bootstrap import api
from services.reporting.settings import ReportingSettings
from services.runtime.clock import FixedClock
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
TOWNSHIP = "520102001"
ADMIN = auth("admin", "52")
SEPT_30 = datetime(2025, 9, 30, 9, 0, tzinfo=timezone.utc)
OCT_3 = datetime(2025, 10, 3, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def client(database_url, tmp_path_factory):
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    app, runtime = api(settings, clock=FixedClock(datetime(2025, 10, 1, 0, 30, tzinfo=timezone.utc)))
    with TestClient(app) as c:
        yield c
    runtime.close()


@pytest.fixture
def september(feed, client):
    school = feed.school(TOWNSHIP, "南明一中")
    student = feed.student(school, TOWNSHIP)
    for day in (29, 30):
        feed.deliver(AbsenceRecordedV1(student_id=student, school_id=school, township_code=TOWNSHIP,
                                       day=date(2025, 9, day), consecutive_school_days=day - 28), at=SEPT_30)
    feed.deliver(SuspectedDropoutDetectedV1(
        detection_id="d1", student_id=student, school_id=school, township_code=TOWNSHIP,
        absent_days=[date(2025, 9, 29), date(2025, 9, 30)], rule="consecutive", rule_version=1, threshold_days=2),
        at=SEPT_30)
    case = CaseOpenedV1(case_id="case-1", student_id=student, school_id=school, township_code=TOWNSHIP,
                        source="attendance", trigger_id="d1", opened_at=SEPT_30)
    feed.deliver(case, subject="case-1", at=SEPT_30)
    return {"school": school, "student": student, "case": case}


def report(client, code: str, school: str | None = None) -> dict:
    items = client.get("/v1/reports", params={"month": "2025-09"}, headers=ADMIN).json()["items"]
    [match] = [r for r in items if r["code"] == code and r["school_id"] == school]
    return client.get(f"/v1/reports/{match['report_id']}", headers=ADMIN).json()


def test_a_sealed_report_never_changes_and_a_correction_is_a_restatement(client, feed, september):
    assert client.post("/v1/reports/seal", params={"month": "2025-09"}, headers=ADMIN).json()["sealed"] == 5  # province, prefecture, county, township, school
    sealed = report(client, "520102")
    assert sealed["figures"]["open_suspected_dropouts"] == 1 and sealed["status"] == "sealed"
    assert sealed["positions"]["partitions"] and len(sealed["content_hash"]) == 64
    assert client.post("/v1/reports/seal", params={"month": "2025-09"}, headers=ADMIN).json()["sealed"] == 0

    # in October: the September case is found to be a record error (closed as of 30 Sept), and a new case opens
    feed.deliver(CaseClosedV1(case_id="case-1", student_id=september["student"], township_code=TOWNSHIP,
                              reason="record_error", evidence_count=1, closed_at=SEPT_30), subject="case-1", at=OCT_3)
    feed.deliver(CaseOpenedV1(case_id="case-2", student_id="another", school_id=september["school"],
                              township_code=TOWNSHIP, source="attendance", trigger_id="d2", opened_at=OCT_3),
                 subject="case-2", at=OCT_3)

    again = report(client, "520102")
    assert (again["figures"], again["content_hash"], again["restatements"]) == (sealed["figures"], sealed["content_hash"], [])

    assert client.post("/v1/reports/restate", params={"month": "2025-09"}, headers=ADMIN).json()["restated"] >= 4
    restated = report(client, "520102")
    assert restated["figures"] == sealed["figures"] and restated["content_hash"] == sealed["content_hash"]
    [first] = restated["restatements"]
    assert first["changes"]["open_suspected_dropouts"] == {"sealed": 1, "previous": 1, "now": 0}
    assert first["figures"]["cases"] == 1  # the October case is not September's
    assert restated["current_hash"] != sealed["content_hash"]
    assert client.post("/v1/reports/restate", params={"month": "2025-09"}, headers=ADMIN).json()["restated"] == 0

    csv_body = client.get(f"/v1/reports/{restated['report_id']}/download", headers=ADMIN).content.decode("utf-8-sig")
    assert "open_suspected_dropouts,1,0" in csv_body


def test_approval_goes_bottom_up(client, september):
    client.post("/v1/reports/seal", params={"month": "2025-09"}, headers=ADMIN)
    school = report(client, TOWNSHIP, september["school"])
    township = report(client, TOWNSHIP)
    county = report(client, "520102")
    staff = auth("school_staff", TOWNSHIP, schools=[september["school"]])
    township_officer = auth("township_officer", TOWNSHIP)
    county_officer = auth("county_officer", "520102")

    assert client.post(f"/v1/reports/{school['report_id']}/submit", headers=staff).status_code == 200
    assert client.post(f"/v1/reports/{township['report_id']}/submit", headers=township_officer).status_code == 200
    early = client.post(f"/v1/reports/{township['report_id']}/approve", headers=county_officer)
    assert early.status_code == 409 and early.json()["detail"]["rule"] == "children_first"
    assert client.post(f"/v1/reports/{school['report_id']}/approve", headers=township_officer).status_code == 200
    assert client.post(f"/v1/reports/{township['report_id']}/approve", headers=township_officer).status_code == 403
    assert client.post(f"/v1/reports/{township['report_id']}/approve", headers=county_officer).status_code == 200
    assert client.post(f"/v1/reports/{county['report_id']}/submit", headers=county_officer).status_code == 200
    assert report(client, "520102")["status"] == "submitted"
    assert report(client, TOWNSHIP)["history"][-1]["action"] == "approved"


def test_a_read_only_role_reads_the_bi_schema_only(client, september, database_url):
    from services.reporting.adapters import bi

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.row_factory = psycopg.rows.dict_row
        conn.execute("SET search_path = reporting")
        bi.create_reader(conn, "baoxue_bi_test", "secret-test")
    parts = urlsplit(database_url)
    reader = urlunsplit(parts._replace(netloc=f"baoxue_bi_test:secret-test@{parts.hostname}:{parts.port or 5432}"))
    with psycopg.connect(reader) as conn:
        cases = conn.execute("SELECT case_id, stage FROM bi.fact_cases").fetchall()
        assert cases == [("case-1", "suspected")]
        assert conn.execute("SELECT count(*) FROM bi.fact_absences").fetchone()[0] == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM reporting.ledger")
    with psycopg.connect(database_url, autocommit=True) as conn:  # roles outlive the test database: drop it
        conn.execute("DROP OWNED BY baoxue_bi_test")
        conn.execute("DROP ROLE baoxue_bi_test")
    body = client.get("/v1/bi/fact_enrolment", headers=auth("county_officer", "520102")).json()
    assert len(body["items"]) == 1 and "*" in body["items"][0]["name_masked"]
    assert client.get("/v1/bi/fact_enrolment", headers=auth("county_officer", "520103")).json()["items"] == []
