"""Use cases on in-memory persistence and the fake store: check-ins, closing a day, flags."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from contracts.events import AbsenceRecordedV1, SchoolDayClosedV1, SuspectedDropoutDetectedV1
from services.attendance.adapters.publishing import to_contract
from services.attendance.application.service import Attendance
from services.attendance.domain.errors import BatchRejected, DayClosed, DayInFuture, DayNotSchoolDay, InvalidInput, UnknownSchool
from services.attendance.domain.values import CheckinRow
from services.attendance.settings import AttendanceSettings
from services.attendance.tests.fakes import InMemoryAttendanceStore, in_memory_attendance
from services.runtime.clock import CHINA, FixedClock

META = {"actor_id": "u-1", "actor_role": "school_staff", "jurisdiction": "520102", "correlation_id": "c-1"}
FRI, SAT, MON, TUE = date(2025, 9, 19), date(2025, 9, 20), date(2025, 9, 22), date(2025, 9, 23)


def at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CHINA)


def seen(*student_ids: str, day: date = MON, status: str = "present") -> list[CheckinRow]:
    return [CheckinRow(s, status, at(day), "gate-1") for s in student_ids]


@pytest.fixture
def store() -> InMemoryAttendanceStore:
    store = InMemoryAttendanceStore()
    store.add_school("school-1")
    for student in ("ann", "bo", "chen"):
        store.enrol(student, "school-1")
    return store


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(at(MON, 20))


@pytest.fixture
def app(store, clock) -> Attendance:
    return in_memory_attendance(store, clock, AttendanceSettings(env="test"))


def published(app: Attendance) -> list:
    notes = app.event_store.recorder.select_notifications(start=1, limit=1000)
    return [c for c in (to_contract(app.event_store.mapper.to_domain_event(n)) for n in notes) if c is not None]


def test_checkins_are_stored_once_and_repeats_count_as_duplicates(app, store):
    first = app.record_checkins("school-1", MON, seen("ann", "bo"))
    again = app.record_checkins("school-1", MON, seen("ann", "bo"))
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates) == (0, 2)
    assert len(store.checkins) == 2


def test_identical_rows_in_one_batch_collapse(app, store):
    result = app.record_checkins("school-1", MON, seen("ann", "ann"))
    assert (result.received, result.accepted, result.duplicates) == (2, 1, 1)


def test_a_batch_with_one_bad_row_is_refused_whole(app, store):
    rows = seen("ann", "stranger", "bo") + [CheckinRow("bo", "late", at(MON, 9), "gate-2")]
    with pytest.raises(BatchRejected) as rejected:
        app.record_checkins("school-1", MON, rows)
    assert [(e.index, e.code) for e in rejected.value.errors] == [(1, "unknown_student"), (3, "conflicting_duplicate")]
    assert store.checkins == {}


def test_checked_at_must_fall_on_the_day(app, store):
    with pytest.raises(BatchRejected) as rejected:
        app.record_checkins("school-1", MON, seen("ann", day=FRI))
    assert rejected.value.errors[0].code == "checked_at_day"


def test_check_ins_are_refused_for_unknown_schools_future_dates_days_off_and_empty_batches(app):
    with pytest.raises(UnknownSchool):
        app.record_checkins("nowhere", MON, seen("ann"))
    with pytest.raises(DayInFuture):
        app.record_checkins("school-1", TUE, seen("ann", day=TUE))
    with pytest.raises(DayNotSchoolDay):
        app.record_checkins("school-1", SAT, seen("ann", day=SAT))
    with pytest.raises(InvalidInput) as empty:
        app.record_checkins("school-1", MON, [])
    assert empty.value.rule == "batch_size"


def test_closing_a_day_records_each_absent_student(app):
    app.record_checkins("school-1", MON, seen("ann"))
    summary = app.close_day("school-1", MON, META)
    assert (summary.enrolled, summary.present, summary.on_leave, summary.absent) == (3, 1, 0, 2)
    assert summary.absent_student_ids == ["bo", "chen"]
    contracts = published(app)
    assert [type(c) for c in contracts] == [SchoolDayClosedV1, AbsenceRecordedV1, AbsenceRecordedV1]
    assert {c.student_id for c in contracts[1:]} == {"bo", "chen"}


def test_closing_twice_returns_the_first_result_and_records_nothing_more(app):
    first = app.close_day("school-1", MON, META)
    second = app.close_day("school-1", MON, {**META, "actor_id": "u-2"})
    assert second == first
    assert len(published(app)) == 1 + 3


def test_a_closed_day_takes_no_more_check_ins(app):
    app.close_day("school-1", MON, META)
    with pytest.raises(DayClosed):
        app.record_checkins("school-1", MON, seen("ann"))


def test_absent_friday_and_monday_flags_a_suspected_dropout(app):
    app.record_checkins("school-1", FRI, seen("ann", "bo", day=FRI))
    app.close_day("school-1", FRI, META)
    app.record_checkins("school-1", MON, seen("ann"))
    app.close_day("school-1", MON, META)
    [flag] = [c for c in published(app) if isinstance(c, SuspectedDropoutDetectedV1)]
    assert flag.student_id == "chen" and flag.absent_days == [FRI, MON] and flag.threshold_days == 2
    assert app.student_attendance("bo").consecutive_school_days == 1


def test_the_threshold_comes_from_settings(store, clock):
    app = in_memory_attendance(store, clock, AttendanceSettings(env="test", absence_threshold_days=3))
    app.close_day("school-1", FRI, META)
    app.close_day("school-1", MON, META)
    assert not [c for c in published(app) if isinstance(c, SuspectedDropoutDetectedV1)]


def test_an_open_day_summary_counts_so_far(app):
    app.record_checkins("school-1", MON, seen("ann", "bo"))
    summary = app.day_summary("school-1", MON)
    assert (summary.status, summary.enrolled, summary.present, summary.absent) == ("open", 3, 2, 1)
