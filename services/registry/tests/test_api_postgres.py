"""The registry API on PostgreSQL: scoped, authenticated, and bad input writes nothing."""

import pytest
from fastapi.testclient import TestClient

from services.registry.entrypoints.api import create_app
from services.registry.application.registry import Registry
from services.registry.application.store import RegistryApp
from services.registry.domain.registration import id_number_check_digit
from services.registry.settings import RegistrySettings
from services.runtime.bootstrap import build_runtime
from services.runtime.eventstore import build_application
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
COUNTY = auth("county_officer", "520102")
OTHER_COUNTY = auth("county_officer", "520103")
SCHOOL = {"code": "T-001", "name": "测试小学", "level": "primary", "county_code": "520102", "township_code": "520102001"}


@pytest.fixture(scope="module")
def client(database_url):
    settings = RegistrySettings(database_url=database_url, env="test")
    runtime = build_runtime("registry", "api", settings)
    app = Registry(build_application(RegistryApp, settings, "registry"))
    with TestClient(create_app(runtime, app)) as c:
        c.registry = app
        yield c


def event_count(client) -> int:
    return client.registry.store.recorder.max_notification_id() or 0


def child(n: int) -> dict:
    body = f"52010220160512{n:03d}"
    return {"id_number": body + id_number_check_digit(body), "name": "赵六", "birth_date": "2016-05-12", "grade": 4,
            "class_name": "4-1"}


def test_school_then_student_and_repeat_is_harmless(client):
    r = client.post("/v1/schools", json=SCHOOL, headers=COUNTY)
    assert r.status_code in (200, 201)
    school_id = r.json()["school_id"]
    assert client.post("/v1/schools", json=SCHOOL, headers=COUNTY).status_code == 200
    r = client.post("/v1/students", json={**child(1), "school_id": school_id}, headers=COUNTY)
    assert r.status_code == 201 and r.json()["name_masked"] == "赵*"
    before = event_count(client)
    assert client.post("/v1/students", json={**child(1), "school_id": school_id}, headers=COUNTY).status_code == 200
    assert event_count(client) == before
    assert client.get(f"/v1/students/{r.json()['student_id']}", headers=COUNTY).status_code == 200
    assert client.get(f"/v1/students/{r.json()['student_id']}", headers=OTHER_COUNTY).status_code == 403


@pytest.mark.parametrize(
    "case, headers, body, status",
    [
        ("missing token", {}, None, 401),
        ("other county", OTHER_COUNTY, None, 403),
        ("unknown school", COUNTY, {"school_id": "00000000-0000-0000-0000-000000000000"}, 422),
        ("future birth date", COUNTY, {"birth_date": "2030-01-01"}, 422),
        ("bad check digit", COUNTY, {"id_number": "52010220160512099" + ("0" if id_number_check_digit("52010220160512099") != "0" else "1")}, 422),
        ("unknown field", COUNTY, {"nickname": "x"}, 422),
        ("grade out of range", COUNTY, {"grade": 12}, 422),
    ],
)
def test_bad_enrolments_are_refused_and_write_nothing(client, case, headers, body, status):
    school_id = client.post("/v1/schools", json=SCHOOL, headers=COUNTY).json()["school_id"]
    before = event_count(client)
    payload = {**child(99), "school_id": school_id, **(body or {})}
    r = client.post("/v1/students", json=payload, headers=headers)
    assert r.status_code == status, (case, r.text)
    assert "detail" in r.json()
    assert event_count(client) == before


def test_malformed_json_is_a_clear_422(client):
    r = client.post("/v1/schools", content=b"{not json", headers={**COUNTY, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"


def test_a_school_outside_the_callers_county_cannot_be_registered(client):
    r = client.post("/v1/schools", json={**SCHOOL, "code": "T-002"}, headers=OTHER_COUNTY)
    assert r.status_code == 403 and r.json()["detail"]["code"] == "out_of_jurisdiction"


def test_a_head_teacher_cannot_register_schools(client):
    r = client.post("/v1/schools", json={**SCHOOL, "code": "T-003"}, headers=auth("head_teacher", "520102001"))
    assert r.status_code == 403


def test_health_and_metrics(client):
    assert client.get("/healthz").json()["status"] == "alive"
    assert client.get("/readyz").json()["checks"]["database"] is True
    assert "baoxue_http_requests_total" in client.get("/metrics").text
