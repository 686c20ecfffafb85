"""Stories of issue 4 on in-memory persistence: calendars, leave, resumption, corrections, chronic and term-start rules."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from contracts.events.attendance import (
    AbsenceRetractedV1,
    AttendanceResumedV1,
    ChronicAbsenceFlaggedV1,
    ChronicAbsenceRetractedV1,
    SuspectedDropoutDetectedV1,
    SuspectedDropoutRetractedV1,
)
from services.attendance.adapters.publishing import to_contract
from services.attendance.application.service import Attendance
from services.attendance.adapters.calendar_files import parse_calendar_file
from services.attendance.domain.calendar import SchoolCalendar
from services.attendance.domain.errors import CorrectionWindowClosed, DayNotSchoolDay, InvalidInput, NotAnAbsence
from services.attendance.domain.errors import LeaveNotPending
from services.attendance.domain.values import CheckinRow
from services.attendance.adapters.ratelimit import RateLimited, TokenBuckets
from services.attendance.settings import AttendanceSettings
from services.attendance.tests.fakes import InMemoryAttendanceStore, in_memory_attendance
from services.runtime.clock import CHINA, FixedClock

META = {"actor_id": "u-1", "actor_role": "school_staff", "jurisdiction": "520102", "correlation_id": "c-1"}
COUNTY = "520102"


def d(text: str) -> date:
    return date.fromisoformat(text)


def at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CHINA)


def seen(day: date, *students: str) -> list[CheckinRow]:
    return [CheckinRow(s, "present", at(day), "gate-1") for s in students]


@pytest.fixture
def store() -> InMemoryAttendanceStore:
    store = InMemoryAttendanceStore()
    store.add_school("school-1")
    for student in ("ann", "bo", "chen"):
        store.enrol(student, "school-1")
    return store


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(at(d("2025-10-10"), 20))


@pytest.fixture
def app(store, clock) -> Attendance:
    return in_memory_attendance(store, clock, AttendanceSettings(env="test", config_ttl_s=0))


def published(app: Attendance, kind: type | None = None) -> list:
    notes = app.event_store.recorder.select_notifications(start=1, limit=10_000)
    contracts = [c for c in (to_contract(app.event_store.mapper.to_domain_event(n)) for n in notes) if c is not None]
    return [c for c in contracts if kind is None or isinstance(c, kind)]


def run_day(app: Attendance, day: date, *present: str) -> None:
    if present:
        app.record_checkins("school-1", day, seen(day, *present))
    app.close_day("school-1", day, META)


# -- calendars ---------------------------------------------------------------------------------
AUTUMN = {
    "terms": [{"name": "2025秋季学期", "start": "2025-09-01", "end": "2026-01-16"}],
    "holidays": [{"start": "2025-10-01", "end": "2025-10-08"}],
    "makeup_days": ["2025-09-28", "2025-10-11"],
}


def test_a_holiday_week_does_not_break_a_streak_and_a_make_up_saturday_counts(app, clock):
    app.set_calendar(COUNTY, AUTUMN, META)
    clock.set(at(d("2025-10-11"), 20))
    with pytest.raises(DayNotSchoolDay):
        app.record_checkins("school-1", d("2025-10-01"), seen(d("2025-10-01"), "ann"))
    run_day(app, d("2025-09-30"), "ann", "bo")  # Tuesday before 国庆
    run_day(app, d("2025-10-09"), "ann", "bo")  # Thursday after the holiday week: chen absent
    run_day(app, d("2025-10-10"), "ann", "bo")  # Friday
    run_day(app, d("2025-10-11"), "ann")  # make-up Saturday: bo absent once, chen third day
    flags = published(app, SuspectedDropoutDetectedV1)
    assert [(f.student_id, f.absent_days) for f in flags] == [("chen", [d("2025-09-30"), d("2025-10-09")])]
    assert app.student_attendance("bo").consecutive_school_days == 1


def test_no_school_day_outside_a_term():
    calendar = SchoolCalendar.from_body(AUTUMN)
    assert not calendar.is_school_day(d("2025-08-29"))
    assert calendar.is_school_day(d("2025-09-28"))  # Sunday, make-up
    assert not calendar.is_school_day(d("2025-10-03"))
    assert calendar.previous_school_day(d("2025-10-09")) == d("2025-09-30")


def test_a_calendar_file_in_csv_reads_like_the_json_body():
    text = "kind,start,end,name\nterm,2025-09-01,2026-01-16,秋季学期\nholiday,2025-10-01,2025-10-08,国庆\nmakeup,2025-09-28,,调休\n"
    calendar = SchoolCalendar.from_body(parse_calendar_file(text, "calendar.csv"))
    assert calendar.terms[0].start == d("2025-09-01") and d("2025-10-05") in calendar.holidays
    assert calendar.makeup_days == frozenset({d("2025-09-28")})


def test_contradictory_calendars_are_refused(app):
    with pytest.raises(InvalidInput):
        app.set_calendar(COUNTY, {"holidays": ["2025-10-01"], "makeup_days": ["2025-10-01"]}, META)
    with pytest.raises(InvalidInput):
        app.set_calendar(COUNTY, {"terms": [{"start": "2025-09-01", "end": "2025-08-01"}]}, META)


# -- leave -------------------------------------------------------------------------------------
def test_approved_leave_is_never_an_absence(app):
    leave = app.request_leave("school-1", "chen", d("2025-10-09"), d("2025-10-10"), "sick", "发烧", META)
    app.decide_leave("school-1", leave.leave_id, True, "同意", META)
    app.close_day("school-1", d("2025-10-09"), META)
    summary = app.close_day("school-1", d("2025-10-10"), META)
    assert (summary.on_leave, summary.absent) == (1, 2)
    assert "chen" not in summary.absent_student_ids
    assert not [f for f in published(app, SuspectedDropoutDetectedV1) if f.student_id == "chen"]


def test_requested_but_unapproved_leave_does_not_excuse(app):
    app.request_leave("school-1", "chen", d("2025-10-10"), d("2025-10-10"), "personal", "", META)
    assert "chen" in app.close_day("school-1", d("2025-10-10"), META).absent_student_ids


def test_leave_approved_after_the_day_closed_corrects_the_absence_and_retracts_the_flag(app):
    run_day(app, d("2025-10-09"), "ann", "bo")
    run_day(app, d("2025-10-10"), "ann", "bo")
    [flag] = published(app, SuspectedDropoutDetectedV1)
    leave = app.request_leave("school-1", "chen", d("2025-10-09"), d("2025-10-10"), "sick", "住院", META)
    result = app.decide_leave("school-1", leave.leave_id, True, "病假条已补交", META)
    assert result.corrected_days == [d("2025-10-09"), d("2025-10-10")]
    [retraction] = published(app, SuspectedDropoutRetractedV1)
    assert retraction.detection_id == flag.detection_id
    assert len(published(app, AbsenceRetractedV1)) == 2
    assert app.day_summary("school-1", d("2025-10-10")).on_leave == 1
    with pytest.raises(LeaveNotPending):
        app.decide_leave("school-1", leave.leave_id, False, "", META)


def test_long_leave_is_visible(app, store):
    app.settings = app.settings.model_copy(update={"long_leave_school_days": 10})
    leave = app.request_leave("school-1", "bo", d("2025-10-13"), d("2025-11-07"), "sick", "手术", META)
    assert leave.school_days == 20 and leave.long_leave
    app.decide_leave("school-1", leave.leave_id, True, "", META)
    assert [v.student_id for v in store.leaves("school-1", min_school_days=10)] == ["bo"]


def test_leave_for_a_student_of_another_school_or_backwards_is_refused(app):
    with pytest.raises(InvalidInput):
        app.request_leave("school-1", "stranger", d("2025-10-10"), d("2025-10-10"), "sick", "", META)
    with pytest.raises(InvalidInput):
        app.request_leave("school-1", "bo", d("2025-10-10"), d("2025-10-09"), "sick", "", META)


# -- resumption --------------------------------------------------------------------------------
def test_a_check_in_after_a_suspected_dropout_records_the_return_once(app, clock):
    run_day(app, d("2025-10-09"), "ann", "bo")
    run_day(app, d("2025-10-10"), "ann", "bo")
    [flag] = published(app, SuspectedDropoutDetectedV1)
    clock.set(at(d("2025-10-13"), 9))
    result = app.record_checkins("school-1", d("2025-10-13"), seen(d("2025-10-13"), "chen", "ann"))
    app.record_checkins("school-1", d("2025-10-13"), seen(d("2025-10-13"), "chen"))
    assert result.resumed == 1
    [resumed] = published(app, AttendanceResumedV1)
    assert (resumed.student_id, resumed.day, resumed.detection_id) == ("chen", d("2025-10-13"), flag.detection_id)


def test_after_a_return_a_new_absence_streak_is_a_new_detection(app, clock):
    for day in ("2025-10-06", "2025-10-07"):
        run_day(app, d(day), "ann", "bo")
    run_day(app, d("2025-10-08"), "ann", "bo", "chen")
    for day in ("2025-10-09", "2025-10-10"):
        run_day(app, d(day), "ann", "bo")
    flags = published(app, SuspectedDropoutDetectedV1)
    assert len(flags) == 2 and flags[0].detection_id != flags[1].detection_id
    assert len(published(app, AttendanceResumedV1)) == 1


# -- corrections -------------------------------------------------------------------------------
def test_a_correction_inside_the_window_retracts_the_absence_and_the_flag(app, clock):
    run_day(app, d("2025-10-09"), "ann", "bo")
    run_day(app, d("2025-10-10"), "ann", "bo")
    clock.set(at(d("2025-10-15"), 9))
    summary = app.correct_day("school-1", d("2025-10-10"), "chen", "present", "门禁故障，班主任确认到校", META)
    assert (summary.present, summary.absent, summary.corrections) == (3, 0, 1)
    [retracted] = published(app, AbsenceRetractedV1)
    assert (retracted.student_id, retracted.day) == ("chen", d("2025-10-10"))
    assert len(published(app, SuspectedDropoutRetractedV1)) == 1
    assert app.student_attendance("chen").open_detection_id is None


def test_a_correction_outside_the_window_is_refused_naming_the_rule(app, clock):
    run_day(app, d("2025-10-10"), "ann", "bo")
    clock.set(at(d("2025-10-18"), 9))
    with pytest.raises(CorrectionWindowClosed) as refused:
        app.correct_day("school-1", d("2025-10-10"), "chen", "present", "补录", META)
    assert refused.value.rule == "correction_window"


def test_only_a_recorded_absence_can_be_corrected(app):
    run_day(app, d("2025-10-10"), "ann", "bo")
    with pytest.raises(NotAnAbsence):
        app.correct_day("school-1", d("2025-10-10"), "ann", "present", "重复", META)


def test_the_window_is_a_rule_per_jurisdiction(app, clock):
    app.set_rules("520102", {"correction_window_days": 1}, META)
    run_day(app, d("2025-10-08"), "ann", "bo")
    with pytest.raises(CorrectionWindowClosed):
        app.correct_day("school-1", d("2025-10-08"), "chen", "present", "补录", META)


# -- rules per jurisdiction, versioned -----------------------------------------------------------
def test_a_township_rule_of_three_days_is_recorded_with_its_version(app):
    rules = app.set_rules("520102001", {"consecutive_days": 3}, META)
    assert rules.version == 2
    for day in ("2025-10-08", "2025-10-09"):
        run_day(app, d(day), "ann", "bo")
    assert not published(app, SuspectedDropoutDetectedV1)
    run_day(app, d("2025-10-10"), "ann", "bo")
    [flag] = published(app, SuspectedDropoutDetectedV1)
    assert (flag.threshold_days, flag.rule_version, len(flag.absent_days)) == (3, 2, 3)


def test_chronic_absence_is_flagged_once_a_term_with_its_evidence(app, clock):
    app.set_calendar(COUNTY, {"terms": [{"start": "2025-09-01", "end": "2025-09-26"}]}, META)  # 20 school days
    app.set_rules(COUNTY, {"consecutive_days": 30, "chronic_ratio": 0.1}, META)
    clock.set(at(d("2025-09-26"), 20))
    run_day(app, d("2025-09-01"), "ann", "chen")
    run_day(app, d("2025-09-03"), "ann", "chen")
    [flag] = published(app, ChronicAbsenceFlaggedV1)
    assert (flag.student_id, flag.absent_days, flag.term_school_days) == ("bo", [d("2025-09-01"), d("2025-09-03")], 20)
    run_day(app, d("2025-09-05"), "ann", "chen")
    assert len(published(app, ChronicAbsenceFlaggedV1)) == 1


def test_term_start_roll_check_flags_who_did_not_come_back(app, clock):
    app.set_calendar(COUNTY, {"terms": [{"start": "2025-09-01", "end": "2026-01-16"}]}, META)
    app.set_rules(COUNTY, {"consecutive_days": 10, "term_start_days": 3}, META)
    clock.set(at(d("2025-09-03"), 20))
    run_day(app, d("2025-09-01"), "ann")
    run_day(app, d("2025-09-02"), "ann", "bo")
    run_day(app, d("2025-09-03"), "ann")
    [flag] = published(app, SuspectedDropoutDetectedV1)
    assert (flag.student_id, flag.rule, flag.absent_days) == (
        "chen",
        "term_start_roll_check",
        [d("2025-09-01"), d("2025-09-02"), d("2025-09-03")],
    )


# -- ingestion ---------------------------------------------------------------------------------
def test_out_of_order_days_record_absences_without_rewriting_the_streak(app):
    run_day(app, d("2025-10-10"), "ann", "bo")
    run_day(app, d("2025-10-08"), "ann", "bo")
    record = app.student_attendance("chen")
    assert record.absent_days == [d("2025-10-08"), d("2025-10-10")] and record.consecutive_school_days == 1
    assert not published(app, SuspectedDropoutDetectedV1)


def test_a_token_bucket_refuses_a_burst_then_refills():
    now = [0.0]
    buckets = TokenBuckets(rate=2, burst=2, now=lambda: now[0])
    buckets.take("gate-a")
    buckets.take("gate-a")
    buckets.take("gate-b")
    with pytest.raises(RateLimited) as limited:
        buckets.take("gate-a")
    assert limited.value.retry_after == pytest.approx(0.5)
    now[0] = 0.5
    buckets.take("gate-a")


# -- a chronic-absence flag withdrawn by a correction ---------------------------------------------
def chronic_term(app, clock, today: str = "2025-09-05") -> None:
    """A 20-school-day term and a 10% rule: two unexcused absences flag 经常性缺勤."""
    app.set_calendar(COUNTY, {"terms": [{"start": "2025-09-01", "end": "2025-09-26"}]}, META)
    app.set_rules(COUNTY, {"consecutive_days": 30, "chronic_ratio": 0.1}, META)
    clock.set(at(d(today), 20))


def test_a_correction_under_the_chronic_threshold_retracts_the_flag_naming_it(app, clock):
    chronic_term(app, clock)
    run_day(app, d("2025-09-01"), "ann", "chen")
    run_day(app, d("2025-09-03"), "ann", "chen")
    [flag] = published(app, ChronicAbsenceFlaggedV1)
    app.correct_day("school-1", d("2025-09-03"), "bo", "present", "补录：门禁漏读", META)
    [retracted] = published(app, ChronicAbsenceRetractedV1)
    assert (retracted.flag_id, retracted.student_id, retracted.corrected_day) == (flag.flag_id, "bo", d("2025-09-03"))
    assert (retracted.absent_days, retracted.threshold_days, retracted.reason) == ([d("2025-09-01")], 2, "补录：门禁漏读")
    assert (retracted.term_start, retracted.term_end) == (flag.term_start, flag.term_end)


def test_a_correction_that_leaves_enough_absences_keeps_the_chronic_flag(app, clock):
    chronic_term(app, clock)
    for day in ("2025-09-01", "2025-09-02", "2025-09-04"):
        run_day(app, d(day), "ann", "chen")
    app.correct_day("school-1", d("2025-09-04"), "bo", "on_leave", "补交病假条", META)
    assert len(published(app, ChronicAbsenceFlaggedV1)) == 1
    assert not published(app, ChronicAbsenceRetractedV1)


def test_after_a_retraction_new_absences_flag_again_under_a_new_id(app, clock):
    chronic_term(app, clock, today="2025-09-08")
    run_day(app, d("2025-09-01"), "ann", "chen")
    run_day(app, d("2025-09-03"), "ann", "chen")
    app.correct_day("school-1", d("2025-09-03"), "bo", "present", "补录", META)
    run_day(app, d("2025-09-08"), "ann", "chen")
    first, second = published(app, ChronicAbsenceFlaggedV1)
    assert first.flag_id != second.flag_id and second.absent_days == [d("2025-09-01"), d("2025-09-08")]
    assert [r.flag_id for r in published(app, ChronicAbsenceRetractedV1)] == [first.flag_id]


def test_leave_approved_late_also_withdraws_the_chronic_flag(app, clock):
    chronic_term(app, clock)
    run_day(app, d("2025-09-01"), "ann", "chen")
    run_day(app, d("2025-09-03"), "ann", "chen")
    leave = app.request_leave("school-1", "bo", d("2025-09-03"), d("2025-09-03"), "sick", "发烧", META)
    app.decide_leave("school-1", leave.leave_id, True, "病假条已补交", META)
    [retracted] = published(app, ChronicAbsenceRetractedV1)
    assert retracted.student_id == "bo" and retracted.reason.startswith("请假已批准")
