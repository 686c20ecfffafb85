"""The scheduler closes today's rolls only after the cut-off and only on school days."""

from __future__ import annotations

from datetime import date, datetime

from services.attendance.application import AttendanceApp
from services.attendance.scheduler import close_due_days
from services.attendance.settings import AttendanceSettings
from services.attendance.tests.fakes import InMemoryAttendanceStore
from services.runtime.clock import CHINA, FixedClock
from services.runtime.testing import in_memory


def build(at: datetime) -> tuple[AttendanceApp, FixedClock]:
    store = InMemoryAttendanceStore()
    for school in ("school-1", "school-2"):
        store.add_school(school)
        store.enrol(f"{school}-kid", school)
    clock = FixedClock(at)
    return in_memory(AttendanceApp).attach(store, clock, AttendanceSettings(env="test", day_close_cutoff="18:00")), clock


def test_nothing_closes_before_the_cut_off_then_every_school_closes_once():
    app, clock = build(datetime(2025, 9, 22, 17, 59, tzinfo=CHINA))
    assert close_due_days(app) == 0
    clock.set(datetime(2025, 9, 22, 18, 0, tzinfo=CHINA))
    done: set = set()
    assert close_due_days(app, done) == 2
    assert close_due_days(app, done) == 0
    assert app.day_summary("school-1", date(2025, 9, 22)).status == "closed"


def test_a_weekend_is_never_closed():
    app, _ = build(datetime(2025, 9, 20, 20, 0, tzinfo=CHINA))
    assert close_due_days(app) == 0


def test_closing_again_after_a_restart_changes_nothing():
    app, _ = build(datetime(2025, 9, 22, 19, 0, tzinfo=CHINA))
    close_due_days(app)
    events = len(app.recorder.select_notifications(start=1, limit=100))
    close_due_days(app)
    assert len(app.recorder.select_notifications(start=1, limit=100)) == events
