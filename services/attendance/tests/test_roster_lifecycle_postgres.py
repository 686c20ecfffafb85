"""The roster follows registry's lifecycle events from their effective dates (stories on PostgreSQL, through the API).

The week of Monday 2025-09-22; the clock stands at Friday evening, so every day of the week can still be taken and
closed. Registry's events reach attendance as the consumer loop applies them (``roster_sink``, one message per
transaction here).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient

from contracts import topics
from contracts.events.registry import (
    DisabledChildPlacedV1,
    SchoolClosedV1,
    SchoolRegisteredV1,
    SchoolTownshipChangedV1,
    StudentAdmittedV1,
    StudentEnrolledV1,
    StudentGraduatedV1,
    StudentRegistrationClosedV1,
    StudentResumedV1,
    StudentSuspendedV1,
    StudentTransferredInV1,
    StudentTransferredOutV1,
)
from services.attendance.entrypoints.api.app import create_app
from services.attendance.bootstrap import application
from services.attendance.entrypoints.consumers import POLICIES, roster_sink
from services.attendance.settings import AttendanceSettings
from services.runtime.bootstrap import build_runtime
from services.runtime.clock import CHINA, FixedClock
from services.runtime.consumer import OFFSETS_DDL
from services.runtime.testing import auth, message

pytestmark = pytest.mark.integration

COUNTY, TOWNSHIP = "520102", "520102001"
MON, TUE, WED, THU, FRI = (date(2025, 9, d) for d in (22, 23, 24, 25, 26))
WEEK = [MON, TUE, WED, THU, FRI]
STAFF = auth("school_staff", COUNTY, user_id="staff-1")
TRACK = f"attendance:{topics.REGISTRY}:0"


@pytest.fixture(scope="module")
def service(database_url):
    settings = AttendanceSettings(database_url=database_url, env="test")
    runtime = build_runtime("attendance", "api", settings, clock=FixedClock(datetime(2025, 9, 26, 20, 0, tzinfo=CHINA)))
    app = application(runtime, settings)
    runtime.db.execute_script(OFFSETS_DDL)
    with TestClient(create_app(runtime, app)) as client:
        yield runtime, app, client


@pytest.fixture
def runtime(service):
    return service[0]


@pytest.fixture
def client(service) -> TestClient:
    return service[2]


def deliver(runtime, payload, sequence: int | None = None) -> bool:
    """A registry event as the consumer loop applies it (a new sequence unless given: a redelivery by the broker)."""
    subject = getattr(payload, "student_id", None) or payload.school_id
    msg = message(payload, subject=subject, sequence=sequence)
    return roster_sink(runtime.db).apply(TRACK, msg.envelope.sequence, POLICIES[type(payload)], msg)


def school(runtime, level: str = "primary") -> str:
    school_id = str(uuid.uuid4())
    deliver(runtime, SchoolRegisteredV1(school_id=school_id, code=school_id[:8], name="学校", level=level,
                                        county_code=COUNTY, township_code=TOWNSHIP))
    return school_id


def enrol(runtime, school_id: str, n: int = 2, grade: int = 3) -> list[str]:
    ids = sorted(str(uuid.uuid4()) for _ in range(n))
    for student_id in ids:
        deliver(runtime, StudentEnrolledV1(student_id=student_id, school_id=school_id, county_code=COUNTY,
                                           township_code=TOWNSHIP, grade=grade, class_name=f"{grade}班",
                                           name_masked="张*", id_number_masked="520102********1234"))
    return ids


def check_in(client, school_id: str, day: date, students: list[str]):
    items = [{"student_id": s, "status": "present", "checked_at": f"{day}T07:50:00+08:00"} for s in students]
    return client.post(f"/v1/schools/{school_id}/days/{day}/checkins", json={"items": items}, headers=STAFF)


def close(client, school_id: str, day: date) -> dict:
    response = client.post(f"/v1/schools/{school_id}/days/{day}/close", headers=STAFF)
    assert response.status_code == 200, response.text
    return response.json()


def roster(client, school_id: str) -> dict[str, dict]:
    body = client.get(f"/v1/schools/{school_id}/roster", headers=STAFF).json()
    return {s["student_id"]: s for s in body["students"]}


def transfer(runtime, student_id: str, old: str, new: str, on: date, grade: int = 3) -> None:
    deliver(runtime, StudentTransferredOutV1(student_id=student_id, school_id=old, township_code=TOWNSHIP, on=on,
                                             reason="随迁", to_school_id=new))
    deliver(runtime, StudentTransferredInV1(student_id=student_id, school_id=new, county_code=COUNTY,
                                            township_code=TOWNSHIP, grade=grade, class_name=f"{grade}班", on=on))


def stint_rows(runtime, student_ids: list[str]) -> list[tuple]:
    with runtime.db.transaction() as conn:
        rows = conn.execute(
            "SELECT student_id, school_id, active_from, active_to, township_code, grade, class_name, expected "
            "FROM students WHERE student_id = ANY(%s::text[]) ORDER BY student_id, active_from, school_id",
            (student_ids,),
        ).fetchall()
    return [tuple(r.values()) for r in rows]


def roster_versions(runtime, school_ids: list[str]) -> dict[str, int]:
    with runtime.db.transaction() as conn:
        rows = conn.execute(
            "SELECT school_id, roster_version FROM schools WHERE school_id = ANY(%s::text[])", (school_ids,)
        ).fetchall()
    return {r["school_id"]: r["roster_version"] for r in rows}


def test_a_transfer_on_wednesday_moves_the_expectation_from_the_old_school_to_the_new_one(runtime, client):
    old, new = school(runtime), school(runtime)
    mover, stayer = enrol(runtime, old)
    (classmate,) = enrol(runtime, new, n=1)
    transfer(runtime, mover, old, new, WED)
    # the gates report every day the child was really there: the old school Monday and Tuesday, the new one after
    for day in WEEK:
        assert check_in(client, old, day, [stayer, mover] if day < WED else [stayer]).status_code == 200
        assert check_in(client, new, day, [classmate, mover] if day >= WED else [classmate]).status_code == 200
    refused = check_in(client, old, THU, [mover])
    assert refused.status_code == 422 and refused.json()["detail"]["errors"][0]["code"] == "unknown_student"
    assert check_in(client, new, TUE, [mover]).json()["detail"]["errors"][0]["code"] == "unknown_student"

    old_rolls = [close(client, old, day) for day in WEEK]
    new_rolls = [close(client, new, day) for day in WEEK]
    assert [r["enrolled"] for r in old_rolls] == [2, 2, 1, 1, 1]
    assert [r["enrolled"] for r in new_rolls] == [1, 1, 2, 2, 2]
    assert all(r["absent"] == 0 for r in old_rolls + new_rolls)  # no false suspected dropout at the old school
    assert set(roster(client, new)) == {mover, classmate} and set(roster(client, old)) == {stayer}


def test_a_child_who_leaves_without_arriving_is_absent_at_the_old_school_only_until_the_transfer(runtime, client):
    old = school(runtime)
    (leaver,) = enrol(runtime, old, n=1)
    deliver(runtime, StudentTransferredOutV1(student_id=leaver, school_id=old, township_code=TOWNSHIP, on=WED,
                                             reason="外出务工随迁", to_region_code="44"))
    rolls = [close(client, old, day) for day in WEEK]
    assert [r["absent_student_ids"] for r in rolls] == [[leaver], [leaver], [], [], []]


def test_a_primary_graduate_admitted_to_a_junior_school_is_on_its_roster_and_its_check_ins_are_accepted(runtime, client):
    primary, junior = school(runtime), school(runtime, level="junior")
    (graduate,) = enrol(runtime, primary, n=1, grade=6)
    (pupil,) = enrol(runtime, junior, n=1, grade=7)
    assert check_in(client, junior, MON, [pupil]).status_code == 200  # the junior school's roster is now cached
    refused = check_in(client, junior, MON, [graduate])
    assert refused.status_code == 422 and refused.json()["detail"]["errors"][0]["code"] == "unknown_student"

    deliver(runtime, StudentGraduatedV1(student_id=graduate, school_id=primary, township_code=TOWNSHIP,
                                        on=date(2025, 7, 1), level="primary"))
    deliver(runtime, StudentAdmittedV1(student_id=graduate, school_id=junior, county_code=COUNTY,
                                       township_code=TOWNSHIP, grade=7, class_name="7(2)班", on=date(2025, 9, 1)))
    accepted = check_in(client, junior, MON, [graduate])
    assert accepted.status_code == 200 and accepted.json()["accepted"] == 1
    assert roster(client, junior)[graduate]["class_name"] == "7(2)班"
    assert close(client, junior, MON)["absent"] == 0
    assert close(client, primary, MON)["enrolled"] == 0  # not expected at the primary school after graduating


def test_a_suspended_child_is_never_absent_and_is_expected_again_from_the_resumption(runtime, client):
    school_id = school(runtime)
    classmate, resting = enrol(runtime, school_id)
    deliver(runtime, StudentSuspendedV1(student_id=resting, school_id=school_id, township_code=TOWNSHIP,
                                        on=date(2025, 9, 1), until=date(2026, 1, 31), reason="病休"))
    for day in (MON, TUE, WED):
        check_in(client, school_id, day, [classmate]).raise_for_status()
    assert [close(client, school_id, day)["absent"] for day in (MON, TUE, WED)] == [0, 0, 0]
    assert check_in(client, school_id, WED, [resting]).status_code in (409, 422)  # closed, and not on the roll anyway
    assert resting not in roster(client, school_id)

    deliver(runtime, StudentResumedV1(student_id=resting, school_id=school_id, township_code=TOWNSHIP, on=THU, grade=4))
    check_in(client, school_id, THU, [classmate]).raise_for_status()
    assert close(client, school_id, THU)["absent_student_ids"] == [resting]
    assert roster(client, school_id)[resting]["grade"] == 4


def test_closing_a_past_day_uses_the_roster_valid_on_that_day(runtime, client, service):
    school_id = school(runtime)
    present, graduate, moved = enrol(runtime, school_id, n=3, grade=6)
    # registry's events arrive on Friday, dated mid-week; Monday to Thursday are closed afterwards
    deliver(runtime, StudentGraduatedV1(student_id=graduate, school_id=school_id, township_code=TOWNSHIP, on=WED,
                                        level="primary"))
    deliver(runtime, StudentRegistrationClosedV1(student_id=moved, school_id=school_id, township_code=TOWNSHIP,
                                                 on=TUE, reason="moved_away", source="public_security"))
    for day in (MON, TUE, WED, THU):
        check_in(client, school_id, day, [present]).raise_for_status()
    absent = [close(client, school_id, day)["absent_student_ids"] for day in (MON, TUE, WED, THU)]
    assert absent == [sorted([graduate, moved]), [graduate], [], []]
    assert set(roster(client, school_id)) == {present}
    # a school closed (撤并) from Friday has nobody on its roll that day
    deliver(runtime, SchoolClosedV1(school_id=school_id, township_code=TOWNSHIP, on=FRI, reason="撤并"))
    assert close(client, school_id, FRI)["enrolled"] == 0


def test_a_home_delivered_child_is_never_expected_at_the_gate_and_a_regular_class_placement_is(runtime, client):
    school_id = school(runtime)
    at_home, in_class = enrol(runtime, school_id)
    for student_id, placement in ((at_home, "home_delivery"), (in_class, "regular_class")):
        deliver(runtime, DisabledChildPlacedV1(student_id=student_id, school_id=school_id, township_code=TOWNSHIP,
                                               placement=placement, on=TUE, disability_degree="2"))
    rolls = [close(client, school_id, day) for day in (MON, TUE, WED)]
    assert [r["absent_student_ids"] for r in rolls] == [sorted([at_home, in_class]), [in_class], [in_class]]
    assert [r["enrolled"] for r in rolls] == [2, 1, 1]
    listed = roster(client, school_id)
    assert (listed[at_home]["expected"], listed[in_class]["expected"]) == (False, True)  # still on the register
    assert check_in(client, school_id, THU, [at_home]).status_code == 200  # a visit to school is welcome, not an error


def test_a_child_who_leaves_with_an_open_suspected_dropout_keeps_it_but_is_not_absent_at_the_old_school(runtime, client):
    old, new = school(runtime), school(runtime)
    (missing,) = enrol(runtime, old, n=1)
    assert [close(client, old, day)["absent"] for day in (MON, TUE)] == [1, 1]
    with runtime.db.transaction() as conn:
        opened = conn.execute("SELECT detection_id FROM open_detections WHERE student_id = %s", (missing,)).fetchone()
    assert opened is not None  # two school days absent: 疑似辍学

    transfer(runtime, missing, old, new, WED)
    assert [close(client, old, day)["absent"] for day in (WED, THU)] == [0, 0]
    with runtime.db.transaction() as conn:
        still = conn.execute("SELECT detection_id FROM open_detections WHERE student_id = %s", (missing,)).fetchone()
    assert still == opened  # casework decides; attendance does not withdraw it
    # seen at the new school: 复学到校 for that detection
    items = [{"school_id": new, "student_id": missing, "status": "present", "checked_at": f"{FRI}T07:40:00+08:00"}]
    seen = client.post(f"/v1/days/{FRI}/checkins", json={"items": items}, headers=STAFF)
    assert seen.status_code == 200 and seen.json()["resumed"] == 1


def test_redelivered_lifecycle_events_change_nothing(runtime, client):
    primary, other, junior = school(runtime), school(runtime), school(runtime, level="junior")
    a, b, c, d = enrol(runtime, primary, n=4, grade=6)
    events = [
        StudentTransferredOutV1(student_id=a, school_id=primary, township_code=TOWNSHIP, on=MON, reason="随迁"),
        StudentTransferredInV1(student_id=a, school_id=other, county_code=COUNTY, township_code=TOWNSHIP, grade=6,
                               class_name="6班", on=WED),
        StudentSuspendedV1(student_id=b, school_id=primary, township_code=TOWNSHIP, on=MON, reason="病休"),
        StudentResumedV1(student_id=b, school_id=primary, township_code=TOWNSHIP, on=THU, grade=6),
        StudentSuspendedV1(student_id=b, school_id=primary, township_code=TOWNSHIP, on=FRI, reason="病休"),
        StudentGraduatedV1(student_id=c, school_id=primary, township_code=TOWNSHIP, on=date(2025, 7, 1), level="primary"),
        StudentAdmittedV1(student_id=c, school_id=junior, county_code=COUNTY, township_code=TOWNSHIP, grade=7,
                          class_name="7班", on=date(2025, 9, 1)),
        DisabledChildPlacedV1(student_id=d, school_id=primary, township_code=TOWNSHIP, placement="home_delivery", on=TUE),
        StudentRegistrationClosedV1(student_id=d, school_id=primary, township_code=TOWNSHIP, on=THU, reason="deceased",
                                    source="public_security"),
        SchoolTownshipChangedV1(school_id=junior, from_township_code=TOWNSHIP, township_code="520102002",
                                county_code=COUNTY, effective=MON, reason="township_merged"),
    ]
    sequences = []
    for event in events:
        msg = message(event, subject=str(uuid.uuid4()))
        sequences.append(msg.envelope.sequence)
        assert roster_sink(runtime.db).apply(TRACK, msg.envelope.sequence, POLICIES[type(event)], msg)
    students, schools = [a, b, c, d], [primary, other, junior]
    rows, versions = stint_rows(runtime, students), roster_versions(runtime, schools)
    assert [r[1:4] for r in rows if r[0] == b] == [(primary, date.min, MON), (primary, THU, FRI)]
    assert [r[1:4] for r in rows if r[0] == a] == [(primary, date.min, MON), (other, WED, None)]

    # the same messages again (skipped by their sequence), then the events redelivered under new sequences (applied)
    for event, sequence in zip(events, sequences):
        msg = message(event, subject=str(uuid.uuid4()), sequence=sequence)
        assert roster_sink(runtime.db).apply(TRACK, sequence, POLICIES[type(event)], msg) is False
    for event in events:
        assert deliver(runtime, event)
    assert stint_rows(runtime, students) == rows
    assert roster_versions(runtime, schools) == versions  # nothing changed, so no cached roster was invalidated


def test_a_transfer_in_applied_before_its_transfer_out_still_ends_the_old_stint_at_the_transfer_out(runtime, client):
    old, new = school(runtime), school(runtime)
    (mover,) = enrol(runtime, old, n=1)
    deliver(runtime, StudentTransferredInV1(student_id=mover, school_id=new, county_code=COUNTY, township_code=TOWNSHIP,
                                            grade=3, class_name="3班", on=WED))
    deliver(runtime, StudentTransferredOutV1(student_id=mover, school_id=old, township_code=TOWNSHIP, on=TUE, reason="随迁"))
    assert [r[1:4] for r in stint_rows(runtime, [mover])] == [(old, date.min, TUE), (new, WED, None)]
    assert [close(client, old, day)["enrolled"] for day in (MON, TUE)] == [1, 0]


def test_a_transfer_applied_after_the_school_s_roster_was_cached_refuses_the_child_from_its_date(runtime, client):
    old, new = school(runtime), school(runtime)
    mover, stayer = enrol(runtime, old)
    for day in (WED, THU):
        assert check_in(client, old, day, [stayer]).status_code == 200  # each day's roster of the school now cached
    transfer(runtime, mover, old, new, THU)  # the students triggers move the school's roster version
    assert check_in(client, old, WED, [mover]).json()["accepted"] == 1  # Wednesday he was still there
    refused = check_in(client, old, THU, [mover])
    assert refused.status_code == 422 and refused.json()["detail"]["errors"][0]["code"] == "unknown_student"
    assert check_in(client, new, THU, [mover]).json()["accepted"] == 1


def test_registry_events_with_odd_free_text_are_applied_and_the_day_still_closes(runtime, client):
    """Odd values a registry event may carry (separators, quotes, backslashes, long strings) never break the roster."""
    from services.runtime.testing import odd_variant

    school_id = str(uuid.uuid4())
    assert deliver(runtime, odd_variant(SchoolRegisteredV1(school_id=school_id, code=school_id[:8], name="学校",
                                                           level="primary", county_code=COUNTY,
                                                           township_code=TOWNSHIP), 1))
    students = sorted(str(uuid.uuid4()) for _ in range(3))
    for n, student_id in enumerate(students):
        assert deliver(runtime, odd_variant(StudentEnrolledV1(
            student_id=student_id, school_id=school_id, county_code=COUNTY, township_code=TOWNSHIP, grade=3,
            class_name="3班", name_masked="张*", id_number_masked="520102********1234", head_teacher_id="ht-1",
            head_teacher_name="李华"), n))
    assert set(roster(client, school_id)) == set(students)
    assert check_in(client, school_id, MON, students[:2]).status_code == 200
    assert close(client, school_id, MON)["absent"] == 1
