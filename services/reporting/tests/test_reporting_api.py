"""The reporting API: officials read the ledger and county figures of their own jurisdiction only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.reporting.bootstrap import api
from services.reporting.settings import ReportingSettings
from services.runtime.testing import auth

pytestmark = pytest.mark.integration

NANMING = "520102001"  # a township in county 520102
NANMING_2 = "520102002"
YUNYAN = "520103001"  # a township in the neighbouring county 520103


@pytest.fixture(scope="module")
def client(database_url, tmp_path_factory):
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    app, runtime = api(settings)
    with TestClient(app) as c:
        yield c
    runtime.close()


@pytest.fixture
def cases(feed):
    """Two open cases in county 520102 (two townships) and one in 520103."""
    s1, s2, s3 = feed.school(NANMING, "南明一中"), feed.school(NANMING_2, "南明二中"), feed.school(YUNYAN, "云岩中学")
    a = feed.case(feed.student(s1, NANMING, "张*丰"), s1, NANMING, minutes=1)
    b = feed.case(feed.student(s2, NANMING_2, "李*"), s2, NANMING_2, minutes=2)
    c = feed.case(feed.student(s3, YUNYAN, "王*明"), s3, YUNYAN, minutes=3)
    return {"a": a, "b": b, "c": c, "schools": (s1, s2, s3)}


def test_no_token_no_ledger(client, cases):
    assert client.get("/v1/ledger").status_code == 401
    assert client.get("/v1/dashboard/counties").status_code == 401


def test_a_county_officer_never_sees_the_neighbouring_county(client, cases):
    body = client.get("/v1/ledger", headers=auth("county_officer", "520102")).json()
    assert body["total"] == 2
    assert [r["case_id"] for r in body["items"]] == [cases["b"].case_id, cases["a"].case_id]  # newest first
    assert {r["county_code"] for r in body["items"]} == {"520102"}
    first = body["items"][1]
    assert (first["name_masked"], first["id_number_masked"], first["school_name"]) == (
        "张*丰", "520102********1234", "南明一中",
    )
    assert "name" not in first and "id_number" not in first
    assert {p["topic"]: p["sequence"] for p in body["as_of"]}["baoxue.casework.v1"] == 3

    denied = client.get("/v1/ledger", params={"county_code": "520103"}, headers=auth("county_officer", "520102"))
    assert denied.status_code == 403


def test_filters_and_pages(client, cases):
    headers = auth("province_officer", "52")
    only = client.get("/v1/ledger", params={"township_code": NANMING_2}, headers=headers).json()
    assert [r["case_id"] for r in only["items"]] == [cases["b"].case_id]
    page = client.get("/v1/ledger", params={"page": 2, "page_size": 2}, headers=headers).json()
    assert (page["total"], [r["case_id"] for r in page["items"]]) == (3, [cases["a"].case_id])
    assert client.get("/v1/ledger", params={"status": "closed"}, headers=headers).json()["total"] == 0
    assert client.get("/v1/ledger", params={"page_size": 1000}, headers=headers).status_code == 422


def test_a_township_officer_filtering_by_county_sees_only_the_township(client, cases):
    body = client.get("/v1/ledger", params={"county_code": "520102"}, headers=auth("township_officer", NANMING)).json()
    assert [r["case_id"] for r in body["items"]] == [cases["a"].case_id]


def test_school_staff_bound_to_a_school_see_its_cases_only(client, cases):
    s1 = cases["schools"][0]
    body = client.get("/v1/ledger", headers=auth("school_staff", "520102", schools=[s1])).json()
    assert [r["case_id"] for r in body["items"]] == [cases["a"].case_id]


def test_roles_outside_reporting_are_refused(client, cases):
    assert client.get("/v1/ledger", headers=auth("attendance_system", "520102")).status_code == 403


def test_county_figures_per_jurisdiction(client, cases):
    province = client.get("/v1/dashboard/counties", headers=auth("auditor", "52")).json()
    assert [(c["county_code"], c["open_suspected_dropouts"]) for c in province["counties"]] == [
        ("520102", 2), ("520103", 1),
    ]
    assert {p["topic"] for p in province["as_of"]} == {"baoxue.registry.v1", "baoxue.casework.v1"}

    county = client.get("/v1/dashboard/counties", headers=auth("county_officer", "520102")).json()
    assert [(c["county_code"], c["open_suspected_dropouts"]) for c in county["counties"]] == [("520102", 2)]


def test_one_county_with_its_townships(client, cases):
    body = client.get("/v1/dashboard/counties/520102", headers=auth("prefecture_officer", "5201")).json()
    assert body["open_suspected_dropouts"] == 2
    assert [(t["township_code"], t["open_suspected_dropouts"]) for t in body["townships"]] == [
        (NANMING, 1), (NANMING_2, 1),
    ]
    assert client.get("/v1/dashboard/counties/520103", headers=auth("county_officer", "520102")).status_code == 403
    assert client.get("/v1/dashboard/counties/520199", headers=auth("county_officer", "5201")).status_code == 404
    assert client.get("/v1/dashboard/counties/52", headers=auth("auditor", "52")).status_code == 422
