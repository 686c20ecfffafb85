"""Closing day after day with snapshots of the students' attendance records (every 3 events here): the close reads
each record from its latest snapshot and the events after it, the consecutive-absence rule opens the same detections
as without snapshots, a concurrent write still makes the close retry, and a snapshot of an older version of the class
is ignored in favour of the events."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Iterator

import pytest
from eventsourcing.application import project_aggregate

from services.attendance.adapters.publishing import to_contract
from services.attendance.bootstrap import application
from services.attendance.domain.student_attendance import StudentAttendance, detection_id_for, student_attendance_id
from services.attendance.domain.values import CheckinRow
from services.attendance.settings import AttendanceSettings
from services.attendance.tests.test_postgres import new_school
from services.runtime import snapshots as snapshot_module
from services.runtime.bootstrap import build_runtime
from services.runtime.clock import CHINA, FixedClock
from services.runtime.consumer import OFFSETS_DDL

pytestmark = pytest.mark.integration

META = {"actor_id": "officer-1", "actor_role": "county_officer", "jurisdiction": "520102", "correlation_id": "c-1"}
SEPTEMBER = [date(2025, 9, 1) + timedelta(days=n) for n in range(30)]
SCHOOL_DAYS = [d for d in SEPTEMBER if d.weekday() < 5][:12]


def started(database_url: str, at: datetime, **settings: Any) -> Iterator[tuple[Any, Any]]:
    """The attendance runtime and application on PostgreSQL with these settings, the clock fixed at ``at``."""
    config = AttendanceSettings(database_url=database_url, env="test", **settings)
    runtime = build_runtime("attendance", "api", config, clock=FixedClock(at))
    app = application(runtime, config)
    runtime.db.execute_script(OFFSETS_DDL)
    yield runtime, app
    runtime.close()


@pytest.fixture(scope="module")
def service(database_url):
    yield from started(database_url, datetime(2025, 9, 30, 20, 0, tzinfo=CHINA), snapshot_every=3)


@pytest.fixture
def app(service):
    return service[1]


def close(app, school_id: str, day: date, present: list[str]) -> list[str]:
    """The school's roll of the day: these students checked in, then the day closed; returns who was absent."""
    if present:
        app.record_checkins(school_id, day, [CheckinRow(s, "present", datetime(day.year, day.month, day.day, 8, tzinfo=CHINA), "gate")
                                             for s in present])
    return app.close_day(school_id, day, META).absent_student_ids


def record(app, student_id: str) -> StudentAttendance:
    return app.event_store.repository.get(student_attendance_id(student_id))


def replayed(app, student_id: str) -> StudentAttendance:
    """The record from every one of its events, no snapshot."""
    return project_aggregate(None, app.event_store.events.get(student_attendance_id(student_id)))


def state(aggregate) -> dict:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def snapshot_versions(app, student_id: str) -> list[int]:
    return [s.originator_version for s in app.event_store.snapshots.get(student_attendance_id(student_id))]


def detections(app, student_id: str) -> list:
    events = app.event_store.events.get(student_attendance_id(student_id))
    return [to_contract(e) for e in events if isinstance(e, StudentAttendance.SuspectedDropoutDetected)]


def test_closing_across_snapshots_opens_the_same_detections_and_keeps_the_exact_state(service, app):
    school_id, (ann, bo, chen) = new_school(service, students=3)
    for n, day in enumerate(SCHOOL_DAYS):
        present = [chen] + ([bo] if n == 2 else [])  # bo comes back on the third day, then stays away again
        assert sorted(close(app, school_id, day, present)) == sorted([ann] + ([] if n == 2 else [bo]))

    assert snapshot_versions(app, ann) and snapshot_versions(app, bo)  # a snapshot of each, at most 3 events old
    assert record(app, ann).version - snapshot_versions(app, ann)[-1] < 3
    for student in (ann, bo):
        assert state(record(app, student)) == state(replayed(app, student))
    loaded = app.event_store.load_many(StudentAttendance, [student_attendance_id(s) for s in (ann, bo, chen)])
    assert set(loaded) == {student_attendance_id(ann), student_attendance_id(bo)}  # chen never missed a day
    assert all(state(a) == state(replayed(app, a.student_id)) for a in loaded.values())

    assert record(app, ann).consecutive_school_days == 12 and record(app, ann).absences == 12
    assert [d.detection_id for d in detections(app, ann)] == [str(detection_id_for(ann, SCHOOL_DAYS[0]))]
    assert [(d.detection_id, d.absent_days) for d in detections(app, bo)] == [
        (str(detection_id_for(bo, SCHOOL_DAYS[0])), SCHOOL_DAYS[:2]),
        (str(detection_id_for(bo, SCHOOL_DAYS[3])), SCHOOL_DAYS[3:5]),  # the streak after the return, from its start
    ]
    assert record(app, bo).consecutive_school_days == 9


def test_a_close_that_meets_a_concurrent_write_retries_from_the_snapshot_and_the_new_events(service, app, monkeypatch):
    school_id, (dan,) = new_school(service, students=1)
    for day in SCHOOL_DAYS[:7]:
        close(app, school_id, day, [])
    assert snapshot_versions(app, dan)
    load_many, raced = app.event_store.load_many, []

    def load_then_someone_else_writes(cls, ids):
        found = load_many(cls, ids)
        if not raced:  # another process records a late-closed day of dan's after the close read the record
            other = record(app, dan)
            other.record_absence(date(2025, 8, 29), None, 2, META)
            app.event_store.save(other)
            raced.append(other.version)
        return found

    monkeypatch.setattr(app.event_store, "load_many", load_then_someone_else_writes)
    assert close(app, school_id, SCHOOL_DAYS[7], []) == [dan]
    assert raced  # the first attempt lost the race (IntegrityError) and the close was built again
    after = record(app, dan)
    assert state(after) == state(replayed(app, dan))
    assert after.absences == 9 and after.consecutive_school_days == 8 and after.version == raced[0] + 1


def test_a_snapshot_of_an_older_version_of_the_class_is_ignored_and_the_events_replayed(service, app, monkeypatch):
    school_id, (eve,) = new_school(service, students=1)
    for day in SCHOOL_DAYS[:7]:
        close(app, school_id, day, [])
    written = snapshot_versions(app, eve)
    assert written
    # a new release changed StudentAttendance: every snapshot stored so far was written by the old class
    monkeypatch.setattr(snapshot_module, "class_fingerprint", lambda cls: "the new StudentAttendance")
    assert state(record(app, eve)) == state(replayed(app, eve))
    for day in SCHOOL_DAYS[7:10]:
        assert close(app, school_id, day, []) == [eve]
    assert record(app, eve).consecutive_school_days == 10 and len(detections(app, eve)) == 1
    assert snapshot_versions(app, eve)[-1] > written[-1]  # written again by the new class
    assert state(app.event_store.load_many(StudentAttendance, [student_attendance_id(eve)])[student_attendance_id(eve)]) == state(
        replayed(app, eve)
    )
