"""A machine client's token is checked against each school's own county (from registry's events), not its claim."""

from __future__ import annotations

import uuid

import pytest

from contracts.events import SchoolRegisteredV1, StudentEnrolledV1
from services.attendance.tests.test_api_postgres import client, rows, service  # noqa: F401 - shared fixtures
from services.attendance.tests.test_postgres import COUNTY, MON, OTHER_COUNTY, deliver, new_school, stored_checkins
from services.runtime.auth import ROLES
from services.runtime.testing import auth

pytestmark = pytest.mark.integration


def school_elsewhere(service, county: str = OTHER_COUNTY) -> tuple[str, list[str]]:
    """A school of another county with two students, as registry's events told attendance."""
    runtime, school_id = service[0], str(uuid.uuid4())
    deliver(runtime, SchoolRegisteredV1(school_id=school_id, code=school_id[:8], name="外县小学", level="primary",
                                        county_code=county, township_code=f"{county}001"), school_id)
    students = sorted(str(uuid.uuid4()) for _ in range(2))
    for student_id in students:
        deliver(runtime, StudentEnrolledV1(student_id=student_id, school_id=school_id, county_code=county,
                                           township_code=f"{county}001", grade=3, class_name="3班",
                                           name_masked="王*", id_number_masked="520103********1234"), student_id)
    return school_id, students


def test_a_token_of_one_county_naming_a_school_of_another_in_its_claim_is_refused(service, client):  # noqa: F811
    (mine, my_students), (theirs, their_students) = new_school(service), school_elsewhere(service)
    gate = auth("attendance_system", COUNTY, user_id="gate-vendor-j", schools=[mine, theirs])
    body = {"items": rows(mine, my_students) + rows(theirs, their_students)}
    refused = client.post(f"/v1/days/{MON}/checkins", json=body, headers=gate)
    assert refused.status_code == 403 and refused.json()["detail"]["code"] == "out_of_jurisdiction"
    assert stored_checkins(service, mine) == stored_checkins(service, theirs) == 0
    leave = {"items": [{"external_id": "x-1", "school_id": theirs, "student_id": their_students[0],
                        "first_day": MON, "last_day": MON, "kind": "sick", "reason": "发烧"}]}
    assert client.post("/v1/leaves/batch", json=leave, headers=gate).status_code == 403
    single = client.post(f"/v1/schools/{theirs}/days/{MON}/checkins", headers=gate,
                         json={"items": [{"student_id": their_students[0], "checked_at": f"{MON}T07:55:00"}]})
    assert single.status_code == 403
    own = client.post(f"/v1/days/{MON}/checkins", json={"items": rows(mine, my_students)}, headers=gate)
    assert own.status_code == 200 and stored_checkins(service, mine) == len(my_students)


def test_no_role_of_another_county_reads_or_writes_a_school_through_any_route(service, client):  # noqa: F811
    school_id, students = new_school(service)
    values = {"{school_id}": school_id, "{county_code}": COUNTY, "{code}": COUNTY, "{day}": MON,
              "{leave_id}": "00000000-0000-0000-0000-000000000000"}
    routes = sorted((method.upper(), path) for path, ops in client.app.openapi()["paths"].items()
                    if any(v in path for v in ("{school_id}", "{county_code}", "{code}")) for method in ops)
    assert len(routes) >= 12
    for role in (r for r in ROLES if r != "admin"):
        headers = auth(role, OTHER_COUNTY, user_id=f"{role}-x", schools=[school_id])  # the claim names the school
        for method, path in routes:
            url = path
            for placeholder, value in values.items():
                url = url.replace(placeholder, value)
            answer = client.request(method, url, headers=headers, json={"items": []})
            allowed = (403, 404) if method == "GET" else (403, 404, 422)
            assert answer.status_code in allowed, (role, method, path, answer.status_code)
    assert stored_checkins(service, school_id) == 0
