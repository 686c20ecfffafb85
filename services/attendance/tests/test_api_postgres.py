"""Issue 4 through the HTTP API on PostgreSQL: multi-school batches, rate limits, corrections, calendars, fuzzed input."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from services.attendance.entrypoints.api.app import create_app
from services.attendance.bootstrap import application
from services.attendance.adapters.ratelimit import TokenBuckets
from services.attendance.settings import AttendanceSettings
from services.attendance.tests.test_postgres import COUNTY, FRI, MON, OTHER_COUNTY, STAFF, checkins, new_school, stored_checkins
from services.runtime.bootstrap import build_runtime
from services.runtime.clock import CHINA, FixedClock
from services.runtime.consumer import OFFSETS_DDL
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
COUNTY_OFFICER = auth("county_officer", COUNTY, user_id="officer-1")


@pytest.fixture(scope="module")
def service(database_url):
    settings = AttendanceSettings(database_url=database_url, env="test", ingest_rate_per_s=10_000, ingest_burst=10_000, config_ttl_s=0)
    runtime = build_runtime("attendance", "api", settings, clock=FixedClock(datetime(2025, 9, 22, 20, 0, tzinfo=CHINA)))
    app = application(runtime, settings)
    runtime.db.execute_script(OFFSETS_DDL)
    with TestClient(create_app(runtime, app)) as client:
        yield runtime, app, client
    runtime.close()


@pytest.fixture
def client(service) -> TestClient:
    return service[2]


def rows(school_id: str, students: list[str], day: str = MON) -> list[dict]:
    return [{"school_id": school_id, "student_id": s, "checked_at": f"{day}T07:55:00"} for s in students]


def test_a_multi_school_batch_is_stored_once_for_a_client_covering_both_schools(service, client):
    (a, a_students), (b, b_students) = new_school(service), new_school(service, students=2)
    gate = auth("attendance_system", COUNTY, user_id="gate-vendor-1", schools=[a, b])
    body = {"items": rows(a, a_students) + rows(b, b_students)}
    first = client.post(f"/v1/days/{MON}/checkins", json=body, headers=gate)
    again = client.post(f"/v1/days/{MON}/checkins", json=body, headers=gate)
    assert first.status_code == 200 and first.json()["accepted"] == 5
    assert again.json()["duplicates"] == 5
    assert stored_checkins(service, a) + stored_checkins(service, b) == 5


def test_a_client_writing_to_a_school_that_is_not_its_own_is_refused_whole(service, client):
    (a, a_students), (b, b_students) = new_school(service), new_school(service)
    gate = auth("attendance_system", COUNTY, user_id="gate-vendor-2", schools=[a])
    body = {"items": rows(a, a_students) + rows(b, b_students[:1])}
    response = client.post(f"/v1/days/{MON}/checkins", json=body, headers=gate)
    assert response.status_code == 403 and response.json()["detail"]["code"] == "school_not_covered"
    assert stored_checkins(service, a) == 0


def test_a_student_sent_under_the_wrong_school_rejects_the_batch_with_row_errors(service, client):
    (a, a_students), (b, b_students) = new_school(service), new_school(service)
    body = {"items": rows(a, a_students) + rows(a, b_students[:1]) + [{"school_id": a, "student_id": 7}]}
    response = client.post(f"/v1/days/{MON}/checkins", json=body, headers=STAFF)
    assert response.status_code == 422
    assert [(e["index"], e["code"]) for e in response.json()["detail"]["errors"]] == [(4, "invalid_row")]
    body["items"].pop()
    response = client.post(f"/v1/days/{MON}/checkins", json=body, headers=STAFF)
    assert [(e["index"], e["code"]) for e in response.json()["detail"]["errors"]] == [(3, "unknown_student")]
    assert stored_checkins(service, a) == 0


def test_too_many_requests_from_one_client_get_a_clear_429(service):
    runtime, app, _ = service
    school_id, students = new_school(service)
    gate = auth("attendance_system", COUNTY, user_id="gate-greedy", schools=[school_id])
    with TestClient(create_app(runtime, app, buckets=TokenBuckets(rate=0.01, burst=2))) as limited:
        url = f"/v1/schools/{school_id}/days/{MON}/checkins"
        answers = [limited.post(url, json=checkins(students), headers=gate) for _ in range(3)]
        other = limited.post(url, json=checkins(students), headers=auth("attendance_system", COUNTY, schools=[school_id]))
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["detail"]["rule"] == "client_rate_limit" and int(answers[2].headers["Retry-After"]) >= 1
    assert other.status_code == 200


def test_a_correction_over_http_records_actor_and_reason_and_outside_the_window_is_409(service, client):
    school_id, students = new_school(service)
    for day in (FRI, MON):
        client.post(f"/v1/schools/{school_id}/days/{day}/checkins", json=checkins(students[:2], day), headers=STAFF)
        client.post(f"/v1/schools/{school_id}/days/{day}/close", headers=STAFF)
    body = {"student_id": students[2], "status": "present", "reason": "门禁故障"}
    fixed = client.post(f"/v1/schools/{school_id}/days/{MON}/corrections", json=body, headers=STAFF)
    assert fixed.status_code == 200 and (fixed.json()["absent"], fixed.json()["corrections"]) == (0, 1)
    record = service[1].student_attendance(students[2])
    assert record.open_detection_id is None and record.meta["actor_id"] == "staff-1"
    old = client.post(f"/v1/schools/{school_id}/days/2025-09-01/corrections", json=body, headers=STAFF)
    assert old.status_code == 409 and old.json()["detail"]["rule"] == "correction_window"


def test_a_county_calendar_set_through_the_api_makes_a_day_off(service, client):
    school_id, students = new_school(service)
    calendar = {"terms": [{"name": "秋季学期", "start": "2025-09-01", "end": "2026-01-16"}], "holidays": ["2025-09-19"]}
    put = client.put(f"/v1/counties/{COUNTY}/calendar", json=calendar, headers=COUNTY_OFFICER)
    assert put.status_code == 200 and put.json()["version"] >= 1
    refused = client.post(f"/v1/schools/{school_id}/days/{FRI}/checkins", json=checkins(students, FRI), headers=STAFF)
    assert refused.status_code == 422 and refused.json()["detail"]["rule"] == "school_day"
    assert client.put(f"/v1/counties/{COUNTY}/calendar", json=calendar, headers=auth("county_officer", OTHER_COUNTY)).status_code == 403
    client.put(f"/v1/counties/{COUNTY}/calendar", json={}, headers=COUNTY_OFFICER)


def test_leave_through_the_school_and_a_county_close(service, client):
    school_id, students = new_school(service)
    leave = client.post(
        f"/v1/schools/{school_id}/leaves",
        json={"student_id": students[0], "first_day": MON, "last_day": MON, "kind": "sick", "reason": "发烧"},
        headers=STAFF,
    )
    assert leave.status_code == 201
    approved = client.post(f"/v1/schools/{school_id}/leaves/{leave.json()['leave_id']}/approve", json={}, headers=STAFF)
    assert approved.json()["status"] == "approved"
    closed = client.post(f"/v1/counties/{COUNTY}/days/{MON}/close", headers=COUNTY_OFFICER)
    assert closed.status_code == 200
    day = client.get(f"/v1/schools/{school_id}/days/{MON}", headers=STAFF).json()
    assert (day["status"], day["on_leave"], day["absent"]) == ("closed", 1, 2)


@pytest.fixture(scope="module")
def fuzz_school(service) -> str:
    return new_school(service)[0]


ITEM = st.fixed_dictionaries(
    {},
    optional={
        "school_id": st.one_of(st.text(max_size=70), st.integers(), st.none()),
        "student_id": st.one_of(st.text(max_size=70), st.integers(), st.none()),
        "status": st.one_of(st.sampled_from(["present", "late", "asleep"]), st.integers()),
        "checked_at": st.one_of(st.text(max_size=40), st.datetimes().map(str), st.just("9999-12-31T23:59:59-12:00")),
        "device": st.one_of(st.text(max_size=80), st.none()),
        "extra": st.booleans(),
    },
)
BODY = st.one_of(
    st.fixed_dictionaries({"items": st.lists(ITEM, max_size=5)}),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=2),
    st.lists(st.integers(), max_size=3),
    st.text(max_size=20),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODY, day=st.sampled_from([MON, "2025-02-30", "x", "2099-01-01"]), multi=st.booleans())
def test_fuzzed_bad_input_never_gets_a_5xx(fuzz_school, client, body, day, multi):
    school_id = fuzz_school
    url = f"/v1/days/{day}/checkins" if multi else f"/v1/schools/{school_id}/days/{day}/checkins"
    response = client.post(url, json=body, headers=STAFF)
    assert response.status_code < 500, response.text


def test_fuzzed_raw_bytes_never_get_a_5xx(client):
    for raw in (b"", b"{", b'{"items": null}', b"\xff\xfe", b'{"items": [{"school_id": "\\ud800"}]}', b"[]" * 1000,
                b'{"items": [{"school_id": "a\\u0000", "student_id": "b"}]}'):
        response = client.post(f"/v1/days/{MON}/checkins", content=raw, headers={**STAFF, "content-type": "application/json"})
        assert response.status_code < 500, raw
