"""The bad inputs of issue 17, each sent to the service that answered 500 (or stored it) before: every one is now a
4xx naming what was wrong, and the lists that broke for everyone afterwards still answer 200."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.registry.tests.stories import make_id
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
ADMIN = auth("admin", "52", user_id="edge-admin")
JSON = {**ADMIN, "content-type": "application/json"}


@pytest.fixture(scope="module")
def clients(service_apps):
    return {name: TestClient(app, raise_server_exceptions=False) for name, app in service_apps.items()}


@pytest.fixture(scope="module")
def school(clients):
    body = {"code": "EDGE-1", "name": "边界小学", "level": "primary", "county_code": "520102",
            "township_code": "520102001"}
    r = clients["registry"].post("/v1/schools", headers=ADMIN, json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()["school_id"]


@pytest.mark.parametrize(("service", "path", "body", "field"), [
    ("registry", "/v1/schools", b'{"code": "E2", "name": "x", "level": "primary", "county_code": NaN}', "county_code"),
    ("registry", "/v1/schools", b'{"code": "E2", "name": "\\ud800", "level": "primary"}', "name"),
    ("registry", "/v1/schools", b'{"code": "E2", "name": "\\u7b2c\\u0000\\u4e00", "level": "primary",'
                                b' "county_code": "520102", "township_code": "520102001"}', "name"),
    ("casework", "/v1/cases/00000000-0000-0000-0000-000000000001/help",
     b'{"help_type": "financial_aid", "detail": "d", "amount_yuan": 1e400}', "amount_yuan"),
    ("notifications", "/v1/recipients/import", b'{"recipients": ' + b"[" * 100_000, None),
    ("attendance", "/v1/counties/520102/calendar/import", b"[" * 100_000, None),
])
def test_non_finite_numbers_surrogates_nul_and_deep_nesting_are_a_422_naming_where(clients, service, path, body, field):
    r = clients[service].post(path, headers=JSON, content=body)
    assert r.status_code == 422, r.text
    if field:
        assert r.json()["detail"][0]["loc"][-1] == field


def test_a_nul_or_control_character_in_a_name_or_id_is_refused_and_lists_keep_working(clients, school):
    registry = clients["registry"]
    good = {"id_number": make_id("52010220160512103"), "name": "张三丰", "birth_date": "2016-05-12",
            "school_id": school, "grade": 4, "class_name": "4-1"}
    for key, value in (("name", "张\x00三"), ("class_name", "4\x1b-1"), ("head_teacher_id", "ht\x00"),
                       ("name", "张\n三")):
        r = registry.post("/v1/students", headers=ADMIN, json={**good, key: value})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == key, r.text
    r = clients["casework"].post("/v1/responsibility-maps/520102001/entries", headers=ADMIN,
                                 json={"slot": "township", "user_id": "gov\u0000x"})
    assert r.status_code == 422
    for service, path in (("registry", "/v1/children?name=张"), ("registry", "/v1/counts"),
                          ("notifications", "/v1/notifications")):
        assert clients[service].get(path, headers=ADMIN).status_code == 200


def test_full_width_digits_in_an_id_number_are_the_same_child_not_a_second_enrolment(clients, school):
    registry = clients["registry"]
    ascii_id = make_id("52010220150807102")
    body = {"name": "李秀英", "birth_date": "2015-08-07", "school_id": school, "grade": 5, "class_name": "5-1"}
    first = registry.post("/v1/students", headers=ADMIN, json={**body, "id_number": ascii_id})
    assert first.status_code == 201, first.text
    full_width = ascii_id.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    again = registry.post("/v1/students", headers=ADMIN, json={**body, "id_number": full_width})
    assert again.status_code == 200 and again.json()["student_id"] == first.json()["student_id"], again.text
    arabic = ascii_id[:-2] + "\u0661" + ascii_id[-1]  # another script's digit: not an ID number at all
    assert registry.post("/v1/students", headers=ADMIN, json={**body, "id_number": arabic}).status_code == 422


@pytest.mark.parametrize(("service", "path", "content_type"), [
    ("registry", "/v1/imports/students?filename=s.csv", "text/csv"),
    ("casework", "/v1/responsibility-maps/520102001/csv", "text/csv"),
    ("notifications", "/v1/recipients/import", "text/csv"),
    ("attendance", "/v1/counties/520102/calendar/import?filename=c.csv", "text/csv"),
])
def test_binary_nul_and_oversized_csv_bodies_are_a_4xx(clients, service, path, content_type):
    client = clients[service]
    headers = {**ADMIN, "content-type": content_type}
    binary = bytes(range(256)) * 64
    assert client.post(path, headers=headers, content=binary).status_code == 422
    nul = "slot,user_id,kind,start\ntownship,a\x00b,holiday,2026-10-01\n".encode()
    assert client.post(path, headers=headers, content=nul).status_code == 422
    huge = b'slot,user_id,kind,start\ntownship,"' + b"x" * 10_000_000 + b'",holiday,2026-10-01\n'
    r = client.post(path, headers=headers, content=huge)
    assert r.status_code in (413, 422) and r.status_code < 500, r.text[:300]


@pytest.mark.parametrize(("service", "method", "path", "body"), [
    ("attendance", "post", "/v1/schools/a%00b/days/2026-11-16/checkins", {"items": []}),
    ("attendance", "post", "/v1/schools/a%00b/leaves", {"student_id": "s", "first_day": "2026-11-16",
                                                        "last_day": "2026-11-16"}),
    ("reporting", "get", "/v1/cases/a%00b/timeline", None),
    ("notifications", "get", "/v1/notifications?case_id=%00", None),
])
def test_nul_in_a_path_id_or_query_is_a_422(clients, service, method, path, body):
    r = getattr(clients[service], method)(path, headers=ADMIN, **({"json": body} if body is not None else {}))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] in ("path", "query"), r.text
