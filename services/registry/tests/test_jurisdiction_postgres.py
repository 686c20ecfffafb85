"""A population record, a merge's undo or an import is checked against the child's own residence, not the request."""

import pytest
from fastapi.testclient import TestClient

from services.registry.entrypoints.api import create_app
from services.registry.bootstrap import build_registry
from services.registry.settings import RegistrySettings
from services.registry.tests.stories import make_id
from services.runtime.bootstrap import build_runtime
from services.runtime.auth import ROLES
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
HERE = auth("county_officer", "520111", user_id="feed-520111")
THERE = auth("county_officer", "520112", user_id="feed-520112")
PREFECTURE = auth("prefecture_officer", "5201", user_id="feed-5201")


@pytest.fixture(scope="module")
def client(database_url):
    settings = RegistrySettings(database_url=database_url, env="test", db_pool_size=2)
    runtime = build_runtime("registry", "api", settings)
    registry = build_registry(runtime, settings)
    with TestClient(create_app(runtime, registry, settings.rules())) as c:
        yield c
    runtime.close()


def record(id_number: str, township: str, source: str = "civil_affairs", **more):
    return {"source": source, "id_number": id_number, "name": "钱小红", "birth_date": id_number[6:10] + "-01-01",
            "township_code": township, **more}


def test_a_record_filed_in_another_county_does_not_bring_the_child_into_its_scope(client):
    child = make_id("52011120140101731")
    assert client.post("/v1/population/records", headers=HERE, json=record(child, "520111001")).status_code == 200
    pulled = client.post("/v1/population/records", headers=THERE,
                         json=record(child, "520112001", source="public_security"))
    assert pulled.status_code == 403 and pulled.json()["detail"]["code"] == "out_of_jurisdiction"
    assert client.get(f"/v1/children/by-id-number/{child}/provenance", headers=THERE).status_code == 403
    assert client.get("/v1/children", params={"id_number": child}, headers=THERE).json() == []
    moved = client.post("/v1/population/records", headers=PREFECTURE,
                        json=record(child, "520112001", source="public_security"))
    assert moved.status_code == 200  # a move between counties is filed where both are seen


def test_an_import_row_for_a_child_living_in_another_county_is_refused(client):
    child = make_id("52011220140101747")  # an ID number issued in 520112, the child living in 520111
    assert client.post("/v1/population/records", headers=HERE, json=record(child, "520111001")).status_code == 200
    text = f"身份证号,姓名,出生日期\n{child},钱小红,2014-01-01\n"  # no township: the ID number's county is in scope
    r = client.post("/v1/imports/population", params={"filename": "p.csv", "source": "public_security"},
                    headers=THERE, content=text.encode())
    assert r.json()["imported"] is False
    assert [(e["line"], e["code"]) for e in r.json()["errors"]] == [(2, "out_of_jurisdiction")]
    assert client.get(f"/v1/children/by-id-number/{child}/provenance", headers=THERE).status_code == 403


def test_undoing_a_merge_needs_both_children_in_scope(client):
    survivor, other = make_id("52011220140101755"), make_id("52011120140101763")
    client.post("/v1/population/records", headers=THERE, json=record(survivor, "520112001"))
    client.post("/v1/population/records", headers=HERE, json=record(other, "520111001"))
    merge = {"survivor_id_number": survivor, "other_id_number": other, "reason": "同一儿童两个身份证号"}
    assert client.post("/v1/population/merges", headers=PREFECTURE, json=merge).status_code == 204
    refused = client.post("/v1/population/merges/undo", headers=THERE, json=merge)
    assert refused.status_code == 403
    assert client.post("/v1/population/merges/undo", headers=PREFECTURE, json=merge).status_code == 204


def test_no_role_of_another_county_reads_or_changes_a_child_or_school_through_any_route(client):
    school = client.post("/v1/schools", headers=HERE, json={"code": "J-SCOPE", "name": "辖区小学", "level": "primary",
                                                             "county_code": "520111", "township_code": "520111001"})
    school_id = school.json()["school_id"]
    id_number = make_id("52011120160101771")
    student = client.post("/v1/students", headers=HERE, json={
        "id_number": id_number, "name": "周小明", "birth_date": "2016-01-01", "school_id": school_id, "grade": 4,
        "class_name": "4-1"})
    student_id = student.json()["student_id"]
    before = client.get(f"/v1/children/{student_id}/history", headers=HERE).json()
    values = {"{student_id}": student_id, "{school_id}": school_id, "{id_number}": id_number, "{code}": "520111"}
    routes = sorted((method.upper(), path) for path, ops in client.app.openapi()["paths"].items()
                    if any(v in path for v in values) for method in ops)
    assert len(routes) >= 15
    for role in (r for r in ROLES if r != "admin"):
        headers = auth(role, "520112", user_id=f"{role}-x")
        for method, path in routes:
            url = path
            for placeholder, value in values.items():
                url = url.replace(placeholder, value)
            answer = client.request(method, url, headers=headers, json={})
            allowed = (403, 404) if method == "GET" else (403, 404, 422)
            assert answer.status_code in allowed, (role, method, path, answer.status_code)
    assert client.get(f"/v1/children/{student_id}/history", headers=HERE).json() == before


def test_a_record_or_import_row_filed_elsewhere_for_a_child_registered_here_is_refused_and_widens_nothing(client):
    school = client.post("/v1/schools", headers=HERE, json={
        "code": "JUR-REG-1", "name": "学籍所在小学", "level": "primary", "county_code": "520111",
        "township_code": "520111001"}).json()["school_id"]
    child = make_id("52011120150301771")
    enrolled = client.post("/v1/students", headers=HERE, json={
        "id_number": child, "name": "钱小红", "birth_date": "2015-03-01", "school_id": school, "grade": 5,
        "class_name": "5-1"})
    assert enrolled.status_code in (200, 201), enrolled.text
    student_id = enrolled.json()["student_id"]
    pulled = client.post("/v1/population/records", headers=THERE, json=record(child, "520112001"))
    assert pulled.status_code == 403 and pulled.json()["detail"]["code"] == "out_of_jurisdiction"
    text = f"身份证号,姓名,出生日期,乡镇代码\n{child},钱小红,2015-03-01,520112001\n"
    r = client.post("/v1/imports/population", params={"filename": "p.csv", "source": "public_security"},
                    headers=THERE, content=text.encode())
    assert [(e["line"], e["code"]) for e in r.json()["errors"]] == [(2, "out_of_jurisdiction")]
    assert client.get(f"/v1/children/{student_id}/history", headers=THERE).status_code in (403, 404)
    assert client.get(f"/v1/children/by-id-number/{child}/provenance", headers=THERE).status_code in (403, 404)
    assert client.get(f"/v1/children/{student_id}/history", headers=HERE).status_code == 200
