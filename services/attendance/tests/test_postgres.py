"""The attendance slice on PostgreSQL through its HTTP API: roster from registry events, check-ins, closing, flags."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient

from contracts import topics
from contracts.events import SchoolRegisteredV1, StudentEnrolledV1, SuspectedDropoutDetectedV1
from services.attendance.entrypoints.api.app import create_app
from services.attendance.adapters.publishing import to_contract
from services.attendance.bootstrap import application
from services.attendance.entrypoints.consumers import POLICIES
from services.attendance.settings import AttendanceSettings
from services.runtime.bootstrap import build_runtime
from services.runtime.clock import CHINA, FixedClock
from services.runtime.consumer import OFFSETS_DDL, ProjectionSink
from services.runtime.testing import auth, message

pytestmark = pytest.mark.integration

COUNTY, TOWNSHIP, OTHER_COUNTY = "520102", "520102001", "520103"
FRI, SAT, MON, TUE = "2025-09-19", "2025-09-20", "2025-09-22", "2025-09-23"
STAFF = auth("school_staff", COUNTY, user_id="staff-1")
TRACK = f"attendance:{topics.REGISTRY}:0"


@pytest.fixture(scope="module")
def service(database_url):
    settings = AttendanceSettings(database_url=database_url, env="test")
    runtime = build_runtime("attendance", "api", settings, clock=FixedClock(datetime(2025, 9, 22, 20, 0, tzinfo=CHINA)))
    app = application(runtime, settings)
    runtime.db.execute_script(OFFSETS_DDL)  # the consumer loop creates its position table on start
    with TestClient(create_app(runtime, app)) as client:
        yield runtime, app, client
    runtime.close()


@pytest.fixture
def client(service) -> TestClient:
    return service[2]


def deliver(runtime, payload, subject: str) -> bool:
    """A registry event as the consumer loop applies it (effect and position in one transaction)."""
    msg = message(payload, subject=subject)
    policy = POLICIES[type(payload)]
    return ProjectionSink(runtime.db, "attendance").apply(TRACK, msg.envelope.sequence, policy, msg)


def enrolled(student_id: str, school_id: str, grade: int = 3) -> StudentEnrolledV1:
    return StudentEnrolledV1(
        student_id=student_id,
        school_id=school_id,
        county_code=COUNTY,
        township_code=TOWNSHIP,
        grade=grade,
        class_name=f"{grade}班",
        name_masked="张*",
        id_number_masked="520102********1234",
    )


def new_school(service, students: int = 3) -> tuple[str, list[str]]:
    """A school registered and enrolled through registry's events; returns its id and student ids."""
    runtime = service[0]
    school_id = str(uuid.uuid4())
    school = SchoolRegisteredV1(
        school_id=school_id, code=school_id[:8], name="第一小学", level="primary", county_code=COUNTY, township_code=TOWNSHIP
    )
    deliver(runtime, school, school_id)
    ids = sorted(str(uuid.uuid4()) for _ in range(students))
    for student_id in ids:
        deliver(runtime, enrolled(student_id, school_id), student_id)
    return school_id, ids


def checkins(student_ids: list[str], day: str = MON) -> dict:
    seen_at = f"{day}T07:50:00+08:00"
    return {"items": [{"student_id": s, "status": "present", "checked_at": seen_at, "device": "gate-1"} for s in student_ids]}


def stored_checkins(service, school_id: str) -> int:
    with service[0].db.transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM checkins WHERE school_id = %s", (school_id,)).fetchone()["n"]


def test_the_roster_is_kept_from_registry_events_and_a_redelivery_changes_nothing(service, client):
    school_id, students = new_school(service)
    runtime = service[0]
    replay = message(enrolled(students[0], school_id, grade=4), sequence=1)
    assert ProjectionSink(runtime.db, "attendance").apply(TRACK, 1, POLICIES[StudentEnrolledV1], replay) is False
    roster = client.get(f"/v1/schools/{school_id}/roster", headers=STAFF)
    assert roster.status_code == 200
    assert roster.json()["count"] == 3
    assert {s["student_id"] for s in roster.json()["students"]} == set(students)
    assert {s["grade"] for s in roster.json()["students"]} == {3}


def test_bulk_check_ins_are_idempotent(service, client):
    school_id, students = new_school(service)
    url = f"/v1/schools/{school_id}/days/{MON}/checkins"
    first = client.post(url, json=checkins(students[:2]), headers=STAFF)
    again = client.post(url, json=checkins(students[:2]), headers=STAFF)
    assert first.status_code == 200 and (first.json()["accepted"], first.json()["duplicates"]) == (2, 0)
    assert again.status_code == 200 and (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    assert stored_checkins(service, school_id) == 2


def test_a_batch_overlapping_one_already_stored_counts_only_the_new_check_ins(service, client):
    school_id, students = new_school(service, students=4)
    url = f"/v1/schools/{school_id}/days/{MON}/checkins"
    client.post(url, json=checkins(students[:2]), headers=STAFF).raise_for_status()
    overlap = client.post(url, json=checkins(students[1:]), headers=STAFF)
    assert overlap.status_code == 200 and (overlap.json()["accepted"], overlap.json()["duplicates"]) == (2, 1)
    assert stored_checkins(service, school_id) == 4


def test_a_student_enrolled_after_a_batch_is_on_the_roster_for_the_next_one(service, client):
    school_id, students = new_school(service)
    url = f"/v1/schools/{school_id}/days/{MON}/checkins"
    client.post(url, json=checkins(students), headers=STAFF).raise_for_status()  # the school's roster is now cached
    newcomer = str(uuid.uuid4())
    refused = client.post(url, json=checkins([newcomer]), headers=STAFF)
    assert refused.status_code == 422 and refused.json()["detail"]["errors"][0]["code"] == "unknown_student"
    deliver(service[0], enrolled(newcomer, school_id), newcomer)
    accepted = client.post(url, json=checkins([newcomer]), headers=STAFF)
    assert accepted.status_code == 200 and accepted.json()["accepted"] == 1


def test_a_batch_with_one_bad_row_writes_nothing(service, client):
    school_id, students = new_school(service)
    body = checkins([students[0], "not-a-student", students[1]])
    response = client.post(f"/v1/schools/{school_id}/days/{MON}/checkins", json=body, headers=STAFF)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "batch_rejected"
    assert [(e["index"], e["code"]) for e in detail["errors"]] == [(1, "unknown_student")]
    assert stored_checkins(service, school_id) == 0


def test_a_token_for_another_county_is_forbidden(service, client):
    school_id, students = new_school(service)
    url = f"/v1/schools/{school_id}/days/{MON}/checkins"
    response = client.post(url, json=checkins(students), headers=auth("school_staff", OTHER_COUNTY))
    assert response.status_code == 403
    assert response.json()["detail"]["code"] == "out_of_jurisdiction"
    assert client.get(f"/v1/schools/{school_id}/roster", headers=auth("county_officer", OTHER_COUNTY)).status_code == 403
    close = client.post(f"/v1/schools/{school_id}/days/{MON}/close", headers=auth("county_officer", OTHER_COUNTY))
    assert close.status_code == 403
    assert stored_checkins(service, school_id) == 0


def test_an_attendance_system_may_only_report_for_its_own_schools(service, client):
    school_id, students = new_school(service)
    url = f"/v1/schools/{school_id}/days/{MON}/checkins"
    other = auth("attendance_system", COUNTY, schools=[str(uuid.uuid4())])
    assert client.post(url, json=checkins(students), headers=other).status_code == 403
    own = auth("attendance_system", COUNTY, schools=[school_id])
    assert client.post(url, json=checkins(students), headers=own).json()["accepted"] == 3


def test_a_future_date_or_a_day_off_is_refused(service, client):
    school_id, students = new_school(service)
    future = client.post(f"/v1/schools/{school_id}/days/{TUE}/checkins", json=checkins(students, TUE), headers=STAFF)
    assert future.status_code == 422 and future.json()["detail"]["rule"] == "day_not_in_future"
    weekend = client.post(f"/v1/schools/{school_id}/days/{SAT}/checkins", json=checkins(students, SAT), headers=STAFF)
    assert weekend.status_code == 422 and weekend.json()["detail"]["rule"] == "school_day"
    close_future = client.post(f"/v1/schools/{school_id}/days/{TUE}/close", headers=STAFF)
    assert close_future.status_code == 422
    assert stored_checkins(service, school_id) == 0


def test_bad_requests_get_clear_4xx_answers(service, client):
    school_id, students = new_school(service)
    url = f"/v1/schools/{school_id}/days/{MON}/checkins"
    assert client.post(url, json=checkins(students)).status_code == 401
    malformed = client.post(url, content=b'{"items": [', headers={**STAFF, "Content-Type": "application/json"})
    assert malformed.status_code == 422
    bad_status = {"items": [{"student_id": students[0], "status": "asleep"}]}
    assert client.post(url, json=bad_status, headers=STAFF).status_code == 422
    assert client.post(f"/v1/schools/{school_id}/days/2025-13-01/checkins", json=checkins(students), headers=STAFF).status_code == 422
    unknown = client.post(f"/v1/schools/{uuid.uuid4()}/days/{MON}/checkins", json=checkins(students), headers=STAFF)
    assert unknown.status_code == 404 and unknown.json()["detail"]["code"] == "unknown_school"
    assert client.post(url, json=checkins(students), headers=auth("village_cadre", COUNTY)).status_code == 403
    assert stored_checkins(service, school_id) == 0


def test_closing_a_day_twice_returns_the_same_result(service, client):
    school_id, students = new_school(service)
    client.post(f"/v1/schools/{school_id}/days/{MON}/checkins", json=checkins(students[:1]), headers=STAFF)
    first = client.post(f"/v1/schools/{school_id}/days/{MON}/close", headers=STAFF)
    second = client.post(f"/v1/schools/{school_id}/days/{MON}/close", headers=auth("county_officer", COUNTY))
    assert first.status_code == 200 and second.status_code == 200
    assert second.json() == first.json()
    assert (first.json()["enrolled"], first.json()["present"], first.json()["absent"]) == (3, 1, 2)
    assert first.json()["closed_by"] == "staff-1"
    assert datetime.fromisoformat(first.json()["closed_at"]) == datetime(2025, 9, 22, 20, 0, tzinfo=CHINA)
    late = client.post(f"/v1/schools/{school_id}/days/{MON}/checkins", json=checkins(students[1:2]), headers=STAFF)
    assert late.status_code == 409 and late.json()["detail"]["rule"] == "day_open"
    assert client.get(f"/v1/schools/{school_id}/days/{MON}", headers=STAFF).json() == first.json()


def test_two_consecutive_school_days_absent_flag_a_suspected_dropout(service, client):
    school_id, students = new_school(service)
    present, missing = students[:2], students[2]
    for day in (FRI, MON):
        client.post(f"/v1/schools/{school_id}/days/{day}/checkins", json=checkins(present, day), headers=STAFF)
        assert client.post(f"/v1/schools/{school_id}/days/{day}/close", headers=STAFF).status_code == 200
    app = service[1]
    notifications = app.event_store.recorder.select_notifications(start=1, limit=10_000)
    contracts = [to_contract(app.event_store.mapper.to_domain_event(n)) for n in notifications]
    flags = [c for c in contracts if isinstance(c, SuspectedDropoutDetectedV1) and c.school_id == school_id]
    assert len(flags) == 1
    assert flags[0].student_id == missing
    assert flags[0].absent_days == [date(2025, 9, 19), date(2025, 9, 22)]
    assert flags[0].rule == "consecutive_unexcused_absence" and flags[0].threshold_days == 2
