"""Stories of leave synced in bulk from schools' attendance systems (请假同步), on in-memory persistence."""

from __future__ import annotations

import json

import pytest

from contracts.events.attendance import AbsenceRetractedV1, SuspectedDropoutRetractedV1
from services.attendance.application.service import Attendance
from services.attendance.entrypoints.api.bulk import parse_leave_batch
from services.attendance.domain.errors import InvalidInput, LeaveBatchRejected
from services.attendance.domain.leave import Leave, sync_leave_id
from services.attendance.application.leave_sync import LeaveSyncItem
from services.attendance.settings import AttendanceSettings
from services.runtime.aggregates import load
from services.attendance.tests.fakes import InMemoryAttendanceStore, in_memory_attendance
from services.attendance.tests.test_rules_and_corrections import META, app, clock, d, published, run_day  # noqa: F401  (fixtures)

SYSTEM = {**META, "actor_id": "campus-app-1", "actor_role": "attendance_system"}


@pytest.fixture
def store() -> InMemoryAttendanceStore:
    """Two schools (``app`` and ``clock`` are the corrections stories' fixtures, built on this store)."""
    store = InMemoryAttendanceStore()
    store.add_school("school-1")
    store.add_school("school-2", "520102002")
    for student, school in (("ann", "school-1"), ("bo", "school-1"), ("chen", "school-1"), ("dai", "school-2"), ("eli", "school-2")):
        store.enrol(student, school)
    return store


def item(student: str, first: str, last: str | None = None, school: str = "school-1", **fields) -> LeaveSyncItem:
    body = {"school_id": school, "student_id": student, "first_day": first, "last_day": last or first}
    body.update({"kind": "sick", "reason": "发烧", "external_id": f"qj-{school}-{student}-{first}"}, **fields)
    return LeaveSyncItem.model_validate(body)


def events(app: Attendance) -> list:
    return [app.event_store.mapper.to_domain_event(n) for n in app.event_store.recorder.select_notifications(start=1, limit=10_000)]


def test_a_batch_for_two_schools_records_approved_leave_that_excuses_the_close(app, store):
    batch = [item("chen", "2025-10-10"), item("dai", "2025-10-10", school="school-2"), item("ann", "2025-10-13", "2025-10-17")]
    result = app.sync_leaves(batch, SYSTEM)
    assert (result.received, result.recorded, result.duplicates, result.corrected) == (3, 3, 0, [])
    assert result.leave_ids == [str(sync_leave_id(i.school_id, i.external_id)) for i in batch]
    assert [(v.student_id, v.status, v.school_days) for v in store.leaves("school-1")] == [("chen", "approved", 1), ("ann", "approved", 5)]
    assert "chen" not in app.close_day("school-1", d("2025-10-10"), META).absent_student_ids
    assert "dai" not in app.close_day("school-2", d("2025-10-10"), META).absent_student_ids
    leave = load(app.event_store.repository, Leave, sync_leave_id("school-1", "qj-school-1-chen-2025-10-10"))
    assert (leave.decided_by, leave.meta["external_id"]) == ("campus-app-1", "qj-school-1-chen-2025-10-10")


def test_a_resend_is_harmless_and_reports_duplicates(app, store):
    batch = [item("chen", "2025-10-10"), item("bo", "2025-10-09")]
    first = app.sync_leaves(batch, SYSTEM)
    written = len(events(app))
    again = app.sync_leaves([*batch, batch[0]], SYSTEM)
    assert (again.recorded, again.duplicates) == (0, 3)
    assert again.leave_ids == [*first.leave_ids, first.leave_ids[0]]
    assert len(events(app)) == written and len(store.leaves("school-1")) == 2


def test_a_repeat_inside_one_batch_is_one_leave(app, store):
    result = app.sync_leaves([item("chen", "2025-10-10"), item("chen", "2025-10-10", note="同意")], SYSTEM)
    assert (result.recorded, result.duplicates) == (1, 1) and result.leave_ids[0] == result.leave_ids[1]


def test_one_bad_item_rejects_the_batch_naming_each_item_and_field(app, store):
    batch = [
        item("chen", "2025-10-10"),
        item("stranger", "2025-10-10"),
        item("bo", "2025-10-10", "2025-10-09"),
        item("ann", "2025-01-06"),
        item("dai", "2025-10-10", school="school-9"),
        item("dai", "2025-10-10", school="school-2"),
        item("chen", "2025-10-10", reason="事假"),
    ]
    with pytest.raises(LeaveBatchRejected) as rejected:
        app.sync_leaves(batch, SYSTEM)
    assert [(e.index, e.field, e.code) for e in rejected.value.errors] == [
        (1, "student_id", "unknown_student"),
        (2, "last_day", "leave_range"),
        (3, "first_day", "leave_too_old"),
        (4, "school_id", "unknown_school"),
        (6, "external_id", "conflicting_duplicate"),
    ]
    assert "(" in rejected.value.errors[0].reason and rejected.value.errors[1].external_id == "qj-school-1-bo-2025-10-10"
    assert store.leaves("school-1") == [] and store.leaves("school-2") == [] and events(app) == []


def test_a_resend_with_other_content_is_refused_not_overwritten(app, store):
    app.sync_leaves([item("chen", "2025-10-10")], SYSTEM)
    changed = item("chen", "2025-10-10", "2025-10-14", external_id="qj-school-1-chen-2025-10-10")
    with pytest.raises(LeaveBatchRejected) as rejected:
        app.sync_leaves([item("bo", "2025-10-10"), changed], SYSTEM)
    assert [(e.index, e.field, e.code) for e in rejected.value.errors] == [(1, "external_id", "external_id_conflict")]
    assert [(v.student_id, v.last_day) for v in store.leaves("school-1")] == [("chen", d("2025-10-10"))]


def test_leave_synced_after_the_days_closed_corrects_them_and_retracts_the_flag(app):
    run_day(app, d("2025-10-09"), "ann", "bo")
    run_day(app, d("2025-10-10"), "ann", "bo")
    result = app.sync_leaves([item("bo", "2025-10-13"), item("chen", "2025-10-09", "2025-10-10", reason="住院")], SYSTEM)
    [correction] = result.corrected
    assert (correction.index, correction.leave_id, correction.days) == (1, result.leave_ids[1], [d("2025-10-09"), d("2025-10-10")])
    assert len(published(app, SuspectedDropoutRetractedV1)) == 1 and len(published(app, AbsenceRetractedV1)) == 2
    assert app.day_summary("school-1", d("2025-10-10")).on_leave == 1


def test_a_batch_gives_the_same_state_and_events_as_request_and_approve_one_by_one(store, clock):
    """The same closed days, then the same leave taken both ways: identical leave, corrections and published events."""
    apps = [in_memory_attendance(s, clock, AttendanceSettings(env="test", config_ttl_s=0)) for s in (store, copy_of(store))]
    for app in apps:
        run_day(app, d("2025-10-09"), "ann", "bo")
        run_day(app, d("2025-10-10"), "ann", "bo")
    one_by_one, batched = apps
    wanted = [("chen", "2025-10-09", "2025-10-10"), ("bo", "2025-10-13", "2025-10-31")]
    singles = []
    for student, first, last in wanted:
        leave = one_by_one.request_leave("school-1", student, d(first), d(last), "sick", "发烧", META)
        singles.append(one_by_one.decide_leave("school-1", leave.leave_id, True, "同意", META))
    result = batched.sync_leaves([item(s, f, l, note="同意") for s, f, l in wanted], META)
    assert [s.corrected_days for s in singles] == [[d("2025-10-09"), d("2025-10-10")], []]
    assert result.corrected[0].days == singles[0].corrected_days
    ids = {s.leave_id: b for s, b in zip(singles, result.leave_ids)}
    assert sorted(shape(one_by_one, ids)) == sorted(shape(batched, {}))
    assert {"Leave.Requested", "Leave.Approved", "SchoolDay.Corrected", "StudentAttendance.SuspectedDropoutRetracted"} <= {
        kind for kind, _ in shape(batched, {})
    }
    assert sorted(same_ids(c, ids) for c in published(one_by_one)) == sorted(same_ids(c, {}) for c in published(batched))
    for single, leave_id in ids.items():
        a, b = load(one_by_one.event_store.repository, Leave, single), load(batched.event_store.repository, Leave, leave_id)
        assert state(a) == state(b) and a.version == b.version == 2


def test_the_body_parser_names_each_bad_item_and_field():
    body = {"items": [{"school_id": "s", "student_id": "x", "first_day": "2025-10-10", "last_day": "2025-10-10", "external_id": "1"},
                      {"school_id": "s", "student_id": "", "first_day": "nope", "last_day": "2025-10-10", "external_id": "2", "name": "张三"}]}
    with pytest.raises(LeaveBatchRejected) as rejected:
        parse_leave_batch(json.dumps(body).encode(), 10)
    assert [(e.index, e.external_id, e.field) for e in rejected.value.errors] == [(1, "2", "student_id"), (1, "2", "first_day"), (1, "2", "name")]
    with pytest.raises(InvalidInput, match="batch size"):
        parse_leave_batch(json.dumps({"items": body["items"] * 6}).encode(), 10)


def copy_of(store: InMemoryAttendanceStore) -> InMemoryAttendanceStore:
    other = InMemoryAttendanceStore()
    other.schools_, other.students = dict(store.schools_), dict(store.students)
    return other


def state(leave: Leave) -> dict:
    keep = ("student_id", "school_id", "township_code", "first_day", "last_day", "kind", "reason", "school_days", "status",
            "decided_by", "decision_note")
    return {k: getattr(leave, k) for k in keep}


def shape(app: Attendance, ids: dict[str, str]) -> list:
    """Each stored event's type and state (leave ids mapped, meta and timestamps left out)."""
    rows = []
    for e in events(app):
        fields = {k: v for k, v in vars(e).items() if k not in ("originator_id", "timestamp", "meta")}
        rows.append((type(e).__qualname__, same_ids(fields, ids)))
    return rows


def same_ids(value, ids: dict[str, str]) -> str:
    text = repr(value)
    for old, new in ids.items():
        text = text.replace(old, new)
    return text
