"""Every view of a child's record, history or provenance is recorded, and auditors of the child's county see it."""

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.registry.entrypoints.api import create_app
from services.registry.bootstrap import build_registry
from services.registry.domain.registration import student_id_for
from services.registry.settings import RegistrySettings
from services.registry.tests.stories import make_id
from services.runtime.bootstrap import build_runtime
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
COUNTY = "520121"
OFFICER = auth("county_officer", COUNTY, user_id="officer-ra")
AUDITOR = auth("auditor", COUNTY, user_id="auditor-ra")


@pytest.fixture(scope="module")
def client(database_url):
    settings = RegistrySettings(database_url=database_url, env="test", db_pool_size=2)
    runtime = build_runtime("registry", "api", settings)
    registry = build_registry(runtime, settings)
    with TestClient(create_app(runtime, registry, settings.rules())) as c:
        school = c.post("/v1/schools", headers=OFFICER, json={"code": "RA-P", "name": "读审小学", "level": "primary",
                                                               "county_code": COUNTY, "township_code": f"{COUNTY}001"})
        c.school_id = school.json()["school_id"]
        c.settings = settings
        yield c
    runtime.close()


def enrol(client, id_number: str) -> str:
    r = client.post("/v1/students", headers=OFFICER, json={
        "id_number": id_number, "name": "孙悟空", "birth_date": f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}",
        "school_id": client.school_id, "grade": 4, "class_name": "4-1"})
    assert r.status_code == 201, r.text
    return r.json()["student_id"]


def test_each_view_of_a_child_is_recorded_with_actor_role_purpose_and_time(client):
    id_number = make_id("52012120160301771")
    sid = enrol(client, id_number)
    client.post("/v1/population/records", headers=OFFICER, json={
        "source": "public_security", "id_number": id_number, "name": "孙悟空", "township_code": f"{COUNTY}001"})
    assert client.get(f"/v1/students/{sid}", headers=OFFICER).status_code == 200
    assert client.get(f"/v1/children/{sid}/history", headers={**OFFICER, "X-Access-Purpose": "casework"}
                      ).status_code == 200
    assert client.get(f"/v1/children/by-id-number/{id_number}/provenance", headers=OFFICER).status_code == 200
    assert client.get("/v1/children", params={"id_number": id_number}, headers=OFFICER).status_code == 200

    reads = client.get("/v1/audit/reads", params={"student_id": sid}, headers=AUDITOR)
    assert reads.status_code == 200
    rows = reads.json()
    assert sorted((r["view"], r["purpose"]) for r in rows) == [
        ("child_history", "casework"), ("child_provenance", "data_correction"), ("child_search", "verification"),
        ("student_record", "enrolment")]
    assert {(r["actor_id"], r["actor_role"], r["actor_jurisdiction"]) for r in rows} == {
        ("officer-ra", "county_officer", COUNTY)}
    assert all(r["at"] and r["subject_jurisdiction"] == f"{COUNTY}001" and r["purpose_label"] for r in rows)
    assert id_number not in reads.text and "孙悟空" not in reads.text and "悟" not in reads.text


def test_auditors_see_reads_only_inside_their_jurisdiction_and_only_auditors_query(client):
    sid = enrol(client, make_id("52012120160301798"))
    client.get(f"/v1/students/{sid}", headers=OFFICER)
    assert client.get("/v1/audit/reads", params={"student_id": sid}, headers=auth("auditor", "520122")).json() == []
    assert client.get("/v1/audit/reads", params={"student_id": sid}, headers=OFFICER).status_code == 403
    assert len(client.get("/v1/audit/reads", params={"student_id": sid}, headers=auth("auditor", "52")).json()) == 1
    assert client.get("/v1/audit/reads", params={"student_id": sid, "since": "2999-01-01T00:00:00+08:00"},
                      headers=AUDITOR).json() == []


def test_an_unknown_purpose_is_refused_naming_the_header_and_nothing_is_shown(client):
    sid = enrol(client, make_id("52012120160301800"))
    refused = client.get(f"/v1/students/{sid}", headers={**OFFICER, "X-Access-Purpose": "curiosity"})
    assert refused.status_code == 422 and "X-Access-Purpose" in refused.text
    assert client.get("/v1/audit/reads", params={"student_id": sid}, headers=AUDITOR).json() == []


def test_the_read_audit_table_is_append_only(client):
    sid = enrol(client, make_id("52012120160301819"))
    client.get(f"/v1/students/{sid}", headers=OFFICER)
    with psycopg.connect(client.settings.database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException):
            conn.execute("DELETE FROM registry.read_audit WHERE student_id = %s", (sid,))
        with pytest.raises(psycopg.errors.RaiseException):
            conn.execute("UPDATE registry.read_audit SET purpose = 'audit' WHERE student_id = %s", (sid,))
    assert len(client.get("/v1/audit/reads", params={"student_id": sid}, headers=AUDITOR).json()) == 1
