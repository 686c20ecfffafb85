"""The scheduler closes each county's rolls only after that county's cut-off, only on school days, catching up."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from contracts.events.attendance import SuspectedDropoutDetectedV1
from services.attendance.adapters.publishing import to_contract
from services.attendance.application.service import Attendance
from services.attendance.domain.school_day import SchoolDay, school_day_id
from services.attendance.domain.errors import InvalidInput
from services.attendance.settings import AttendanceSettings
from services.attendance.tests.fakes import InMemoryAttendanceStore, in_memory_attendance
from services.runtime.clock import CHINA, FixedClock


def build(at: datetime) -> tuple[Attendance, FixedClock]:
    store = InMemoryAttendanceStore()
    for school in ("school-1", "school-2"):
        store.add_school(school)
        store.enrol(f"{school}-kid", school)
    clock = FixedClock(at)
    return in_memory_attendance(store, clock, AttendanceSettings(env="test", day_close_cutoff="18:00")), clock


def test_nothing_closes_before_the_cut_off_then_every_school_closes_once():
    app, clock = build(datetime(2025, 9, 22, 17, 59, tzinfo=CHINA))
    assert app.day_close.close_due_days() == 0
    clock.set(datetime(2025, 9, 22, 18, 0, tzinfo=CHINA))
    done: set = set()
    assert app.day_close.close_due_days(done) == 2
    assert app.day_close.close_due_days(done) == 0
    assert app.day_summary("school-1", date(2025, 9, 22)).status == "closed"


def test_a_weekend_is_never_closed():
    app, _ = build(datetime(2025, 9, 20, 20, 0, tzinfo=CHINA))
    assert app.day_close.close_due_days() == 0


def test_closing_again_after_a_restart_changes_nothing():
    app, _ = build(datetime(2025, 9, 22, 19, 0, tzinfo=CHINA))
    app.day_close.close_due_days()
    events = len(app.event_store.recorder.select_notifications(start=1, limit=100))
    app.day_close.close_due_days()
    assert len(app.event_store.recorder.select_notifications(start=1, limit=100)) == events


# -- a cut-off per county, catch-up after downtime, one county's failure ---------------------------

OFFICER = {"actor_id": "officer-1", "actor_role": "county_officer", "jurisdiction": "520103", "correlation_id": "c-1"}
A, B = "520102", "520103"  # two counties, a school each


def two_counties(at: datetime) -> tuple[Attendance, FixedClock, InMemoryAttendanceStore]:
    store = InMemoryAttendanceStore()
    for school, township in (("a-school", f"{A}001"), ("b-school", f"{B}001")):
        store.add_school(school, township)
        store.enrol(f"{school}-kid", school)
    clock = FixedClock(at)
    settings = AttendanceSettings(env="test", day_close_cutoff="18:00", config_ttl_s=0)
    return in_memory_attendance(store, clock, settings), clock, store


def closed(app: Attendance, school_id: str, day: date) -> bool:
    return app.day_summary(school_id, day).status == "closed"


def test_each_county_closes_after_its_own_cut_off_recorded_with_the_close(monkeypatch):
    app, clock, _ = two_counties(datetime(2025, 9, 22, 8, 0, tzinfo=CHINA))
    config = app.set_day_close(B, {"cutoff": "16:30"}, OFFICER)
    assert (config.version, app.day_close_for(A).cutoff, app.day_close_for(A).version) == (2, "18:00", 1)
    app.day_close.run_once()
    clock.set(datetime(2025, 9, 22, 16, 45, tzinfo=CHINA))
    assert app.day_close.close_due_days() == 1
    assert closed(app, "b-school", date(2025, 9, 22)) and not closed(app, "a-school", date(2025, 9, 22))
    clock.set(datetime(2025, 9, 22, 18, 0, tzinfo=CHINA))
    assert app.day_close.close_due_days() == 1 and closed(app, "a-school", date(2025, 9, 22))
    meta = app.event_store.repository.get(school_day_id("b-school", date(2025, 9, 22))).meta
    assert (meta["cutoff"], meta["cutoff_version"], meta["actor_id"]) == ("16:30", 2, "system:attendance")


def test_days_missed_while_the_scheduler_was_down_are_closed_in_order_within_the_window():
    app, clock, store = two_counties(datetime(2025, 9, 15, 19, 0, tzinfo=CHINA))  # Monday: runs, closes Monday
    assert app.day_close.close_due_days() == 2
    clock.set(datetime(2025, 9, 18, 19, 0, tzinfo=CHINA))  # down Tuesday and Wednesday, back Thursday evening
    assert app.day_close.close_due_days() == 6
    days = [date(2025, 9, 16), date(2025, 9, 17), date(2025, 9, 18)]
    assert all(closed(app, s, d) for s in ("a-school", "b-school") for d in days)
    notes = app.event_store.recorder.select_notifications(start=1, limit=1000)
    flags = [c for c in (to_contract(app.event_store.mapper.to_domain_event(n)) for n in notes) if isinstance(c, SuspectedDropoutDetectedV1)]
    # closed oldest first: the absent kids' streak ran Monday, Tuesday → detected on Tuesday's close
    assert sorted((f.student_id, f.absent_days[-1]) for f in flags) == [
        ("a-school-kid", date(2025, 9, 16)),
        ("b-school-kid", date(2025, 9, 16)),
    ]
    assert store.progress == {A: date(2025, 9, 18), B: date(2025, 9, 18)}


def test_catch_up_never_reaches_past_the_correction_window():
    app, clock, _ = two_counties(datetime(2025, 9, 1, 19, 0, tzinfo=CHINA))
    app.set_rules(A, {"correction_window_days": 2}, OFFICER)
    app.day_close.close_due_days()
    clock.set(datetime(2025, 9, 12, 19, 0, tzinfo=CHINA))  # Friday, eleven days later
    app.day_close.close_due_days()
    assert not closed(app, "a-school", date(2025, 9, 9))  # Tuesday: outside county A's 2-day window
    assert closed(app, "a-school", date(2025, 9, 10)) and closed(app, "a-school", date(2025, 9, 12))
    assert closed(app, "b-school", date(2025, 9, 5)) and not closed(app, "b-school", date(2025, 9, 4))  # default 7 days


def test_a_first_start_closes_from_today_on_not_the_history_before_it():
    app, _, _ = two_counties(datetime(2025, 9, 18, 19, 0, tzinfo=CHINA))
    assert app.day_close.close_due_days() == 2
    assert not closed(app, "a-school", date(2025, 9, 17))


def test_one_county_failing_does_not_stop_the_others_and_is_caught_up_later():
    app, clock, store = two_counties(datetime(2025, 9, 22, 8, 0, tzinfo=CHINA))
    app.day_close.run_once()
    store.failing_counties.add(A)
    clock.set(datetime(2025, 9, 22, 19, 0, tzinfo=CHINA))
    runs = {r.county_code: r for r in app.day_close.run_once()}
    assert runs[A].error and "unavailable" in runs[A].error and runs[B].schools == 1
    assert store.progress[A] == date(2025, 9, 21)
    store.failing_counties.clear()
    clock.set(datetime(2025, 9, 23, 19, 0, tzinfo=CHINA))
    runs = {r.county_code: r for r in app.day_close.run_once()}
    assert runs[A].days == [date(2025, 9, 22), date(2025, 9, 23)] and runs[B].days == [date(2025, 9, 23)]


def test_a_day_already_closed_by_hand_is_skipped_and_the_cut_off_is_validated():
    app, clock, _ = two_counties(datetime(2025, 9, 22, 8, 0, tzinfo=CHINA))
    app.day_close.run_once()
    app.close_day("a-school", date(2025, 9, 22), OFFICER)
    clock.set(datetime(2025, 9, 22, 19, 0, tzinfo=CHINA))
    assert app.day_close.close_due_days() == 1
    assert app.event_store.repository.get(school_day_id("a-school", date(2025, 9, 22))).meta["actor_id"] == "officer-1"
    assert isinstance(app.event_store.repository.get(school_day_id("b-school", date(2025, 9, 22))), SchoolDay)
    for bad in ({"cutoff": "24:00"}, {"cutoff": "6pm"}, {"cutoff": "18:00", "tz": "UTC"}, {}):
        with pytest.raises(InvalidInput):
            app.set_day_close(A, bad, OFFICER)
