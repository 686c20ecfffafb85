"""Leave synced in bulk (请假同步) through the HTTP API on PostgreSQL: many schools, resends, rejections, scope,
corrections of closed days, and the same outcome as a request and an approval one at a time."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from services.attendance.domain.leave import Leave
from services.attendance.tests.test_api_postgres import client, service  # noqa: F401  (the API on PostgreSQL, no rate limit)
from services.attendance.tests.test_postgres import COUNTY, FRI, MON, OTHER_COUNTY, STAFF, checkins, new_school
from services.runtime.aggregates import load
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
URL = "/v1/leaves/batch"


def leave(school_id: str, student_id: str, first: str, last: str | None = None, **fields) -> dict:
    body = {"school_id": school_id, "student_id": student_id, "first_day": first, "last_day": last or first, "kind": "sick"}
    return {**body, "reason": "发烧", "external_id": f"qj-{student_id[:8]}-{first}", **fields}


def leaves_of(client: TestClient, school_id: str) -> list[dict]:
    response = client.get(f"/v1/schools/{school_id}/leaves", headers=STAFF)
    assert response.status_code == 200
    return response.json()


def close(client: TestClient, school_id: str, present: list[str], *days: str) -> None:
    for day in days:
        client.post(f"/v1/schools/{school_id}/days/{day}/checkins", json=checkins(present, day), headers=STAFF)
        assert client.post(f"/v1/schools/{school_id}/days/{day}/close", headers=STAFF).status_code == 200


def test_a_batch_across_schools_records_approved_leave_and_a_resend_is_harmless(service, client):
    (a, a_students), (b, b_students) = new_school(service), new_school(service)
    system = auth("attendance_system", COUNTY, user_id="campus-app-1", schools=[a, b])
    items = [leave(a, a_students[0], MON), leave(b, b_students[1], MON, "2025-09-26", approved_by="t-0042"), leave(a, a_students[2], "2025-09-29")]
    first = client.post(URL, json={"items": items}, headers=system)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["received"], body["recorded"], body["duplicates"], body["corrected"]) == (3, 3, 0, [])
    assert [v["leave_id"] for v in leaves_of(client, a)] == [body["leave_ids"][0], body["leave_ids"][2]]
    assert [(v["status"], v["school_days"]) for v in leaves_of(client, b)] == [("approved", 5)]
    again = client.post(URL, json={"items": items}, headers=system).json()
    assert (again["recorded"], again["duplicates"], again["leave_ids"]) == (0, 3, body["leave_ids"])
    assert len(leaves_of(client, a)) == 2 and len(leaves_of(client, b)) == 1
    synced = load(service[1].event_store.repository, Leave, uuid.UUID(body["leave_ids"][1]))
    assert (synced.decided_by, synced.meta["approved_by"], synced.meta["actor_role"]) == ("campus-app-1", "t-0042", "attendance_system")
    closed = client.post(f"/v1/schools/{a}/days/{MON}/close", headers=STAFF).json()
    assert (closed["on_leave"], closed["absent"]) == (1, 2)


def test_one_bad_item_rejects_the_whole_batch_naming_the_item_and_field(service, client):
    (a, students), (_, strangers) = new_school(service), new_school(service)
    items = [leave(a, students[0], MON), leave(a, strangers[0], MON), leave(a, students[1], MON, FRI), {**leave(a, students[2], MON), "name": "张三"}]
    response = client.post(URL, json={"items": items}, headers=STAFF)
    assert response.status_code == 422
    assert [(e["index"], e["field"], e["code"]) for e in response.json()["detail"]["errors"]] == [(3, "name", "invalid_field")]
    items.pop()
    response = client.post(URL, json={"items": items}, headers=STAFF)
    detail = response.json()["detail"]
    assert response.status_code == 422 and detail["code"] == "batch_rejected" and "整批未写入" in detail["message"]
    assert [(e["index"], e["field"], e["code"]) for e in detail["errors"]] == [(1, "student_id", "unknown_student"), (2, "last_day", "leave_range")]
    assert leaves_of(client, a) == []


def test_a_resend_with_changed_content_is_refused_with_the_item_named(service, client):
    school_id, students = new_school(service)
    assert client.post(URL, json={"items": [leave(school_id, students[0], MON)]}, headers=STAFF).status_code == 200
    changed = leave(school_id, students[0], MON, "2025-09-24")
    response = client.post(URL, json={"items": [leave(school_id, students[1], MON), changed]}, headers=STAFF)
    assert response.status_code == 422
    assert [(e["index"], e["external_id"], e["code"]) for e in response.json()["detail"]["errors"]] == [(1, changed["external_id"], "external_id_conflict")]
    assert [(v["student_id"], v["last_day"]) for v in leaves_of(client, school_id)] == [(students[0], MON)]


def test_a_school_outside_the_callers_scope_is_403_and_nothing_is_written(service, client):
    (a, a_students), (b, b_students) = new_school(service), new_school(service)
    system = auth("attendance_system", COUNTY, user_id="campus-app-2", schools=[a])
    items = [leave(a, a_students[0], MON), leave(b, b_students[0], MON)]
    response = client.post(URL, json={"items": items}, headers=system)
    assert response.status_code == 403 and response.json()["detail"]["code"] == "school_not_covered"
    other = client.post(URL, json={"items": items[:1]}, headers=auth("school_staff", OTHER_COUNTY))
    assert other.status_code == 403 and other.json()["detail"]["code"] == "out_of_jurisdiction"
    assert client.post(URL, json={"items": items[:1]}, headers=auth("county_officer", COUNTY)).status_code == 403
    assert leaves_of(client, a) == [] and leaves_of(client, b) == []


def test_synced_leave_corrects_closed_days_inside_the_window_like_an_approval(service, client):
    school_id, students = new_school(service)
    close(client, school_id, students[:2], FRI, MON)
    absent = students[2]
    assert service[1].student_attendance(absent).open_detection_id is not None
    response = client.post(URL, json={"items": [leave(school_id, absent, FRI, MON, reason="住院")]}, headers=STAFF)
    body = response.json()
    assert response.status_code == 200 and body["corrected"] == [{"index": 0, "leave_id": body["leave_ids"][0], "days": [FRI, MON]}]
    day = client.get(f"/v1/schools/{school_id}/days/{MON}", headers=STAFF).json()
    assert (day["on_leave"], day["absent"], day["corrections"]) == (1, 0, 1)
    assert service[1].student_attendance(absent).open_detection_id is None


def test_the_batch_gives_the_same_days_leave_and_events_as_request_then_approve(service, client):
    """Two schools alike: one takes the leave one request and approval at a time, the other in one synced batch."""
    (a, a_students), (b, b_students) = new_school(service), new_school(service)
    for school_id, students in ((a, a_students), (b, b_students)):
        close(client, school_id, students[:2], FRI, MON)
    singles = []
    for student, first, last in ((a_students[2], FRI, MON), (a_students[0], "2025-09-24", "2025-09-25")):
        body = {"student_id": student, "first_day": first, "last_day": last, "kind": "sick", "reason": "发烧"}
        requested = client.post(f"/v1/schools/{a}/leaves", json=body, headers=STAFF).json()
        singles.append(client.post(f"/v1/schools/{a}/leaves/{requested['leave_id']}/approve", json={"note": "同意"}, headers=STAFF).json())
    items = [leave(b, b_students[2], FRI, MON, note="同意"), leave(b, b_students[0], "2025-09-24", "2025-09-25", note="同意")]
    batch = client.post(URL, json={"items": items}, headers=STAFF).json()
    assert [s["corrected_days"] for s in singles] == [[FRI, MON], []] and batch["corrected"][0]["days"] == [FRI, MON]
    for day in (FRI, MON):
        one, other = (client.get(f"/v1/schools/{s}/days/{day}", headers=STAFF).json() for s in (a, b))
        assert [one[k] for k in ("enrolled", "present", "on_leave", "absent", "corrections")] == [
            other[k] for k in ("enrolled", "present", "on_leave", "absent", "corrections")
        ]
    views = [[{k: v for k, v in row.items() if k not in ("leave_id", "student_id", "school_id")} for row in leaves_of(client, s)] for s in (a, b)]
    assert views[0] == views[1]
    app = service[1]
    for single, synced in zip(singles, batch["leave_ids"]):
        one, other = (app.event_store.repository.get(uuid.UUID(i)) for i in (single["leave_id"], synced))
        assert [type(e).__qualname__ for e in app.event_store.repository.event_store.get(one.id)] == ["Leave.Requested", "Leave.Approved"]
        assert [type(e).__qualname__ for e in app.event_store.repository.event_store.get(other.id)] == ["Leave.Requested", "Leave.Approved"]
        assert (one.status, one.kind, one.reason, one.school_days, one.decision_note, one.decided_by) == (
            other.status, other.kind, other.reason, other.school_days, other.decision_note, other.decided_by
        )
    records = [app.student_attendance(s) for s in (a_students[2], b_students[2])]
    assert [r.open_detection_id for r in records] == [None, None] and records[0].version == records[1].version


def test_raw_or_malformed_bodies_never_get_a_5xx(client):
    nul = b'{"items": [{"school_id": "a\\u0000", "student_id": "b", "first_day": "2025-09-22", "last_day": "2025-09-22", "external_id": "1"}]}'
    for raw in (b"", b"{", b'{"items": null}', b'{"items": []}', b"\xff\xfe", b'{"items": [{"school_id": "\\ud800"}]}', b'{"items": [1, "x"]}', nul):
        response = client.post(URL, content=raw, headers={**STAFF, "content-type": "application/json"})
        assert 400 <= response.status_code < 500, raw
