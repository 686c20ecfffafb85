"""The stack bench's days: its stack runs on a clock pinned before the day-close cut-off, so attendance's scheduler
never closes a later day than the bench's two (a late close does not build a streak, and no case would open)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from bench.stack import _school_days, pin_clock
from services.attendance.settings import AttendanceSettings
from services.attendance.tests.fakes import InMemoryAttendanceStore, in_memory_attendance
from services.runtime.clock import CHINA, FileClock, FixedClock

META = {"actor_id": "bench-county_officer", "role": "county_officer", "jurisdiction": "520102"}


def test_the_clock_is_pinned_at_nine_in_the_morning_of_the_shanghai_date(tmp_path):
    path = tmp_path / "clock"
    # 17:30 UTC on Monday is already Tuesday in Shanghai: the bench counts back from Tuesday, not from UTC's Monday
    today = pin_clock(path, datetime(2026, 12, 7, 17, 30, tzinfo=timezone.utc))
    assert today == date(2026, 12, 8)
    assert datetime.fromisoformat(path.read_text()) == datetime(2026, 12, 8, 9, 0, tzinfo=CHINA)
    assert FileClock(path).today() == today
    assert _school_days(today, 2) == [date(2026, 12, 4), date(2026, 12, 7)]  # Friday and Monday


def _bench_school(at: datetime):
    store = InMemoryAttendanceStore()
    store.add_school("school-1", "520102001")
    store.enrol("present-kid", "school-1")
    store.enrol("absent-kid", "school-1")
    clock = FixedClock(at)
    return in_memory_attendance(store, clock, AttendanceSettings(env="test", absence_threshold_days=2)), clock


def _bench_closes(app, today: date) -> None:
    """What the bench does: the scheduler ticks meanwhile, the bench closes its two days in order."""
    app.day_close.close_due_days()
    for day in _school_days(today, 2):
        app.close_day("school-1", day, META)
        app.day_close.close_due_days()


def test_at_the_pinned_time_the_scheduler_closes_nothing_and_the_bench_s_absence_is_flagged(tmp_path):
    evening = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)  # 20:00 in Shanghai, past the 18:00 cut-off
    today = pin_clock(tmp_path / "clock", evening)
    app, _ = _bench_school(datetime.fromisoformat((tmp_path / "clock").read_text()))
    _bench_closes(app, today)
    assert app.day_summary("school-1", today).status != "closed"
    assert app.student_attendance("absent-kid").open_detection_id is not None


def test_on_the_wall_clock_in_the_shanghai_evening_the_scheduler_s_close_of_today_left_the_bench_without_a_case():
    # the cause of "no case … 30 s after its day close": today closed first, the bench's two days then closed late
    app, _ = _bench_school(datetime(2026, 12, 7, 20, 0, tzinfo=CHINA))
    _bench_closes(app, date(2026, 12, 7))
    assert app.day_summary("school-1", date(2026, 12, 7)).status == "closed"
    assert app.student_attendance("absent-kid").open_detection_id is None
