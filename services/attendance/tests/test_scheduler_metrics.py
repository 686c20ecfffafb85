"""baoxue_day_closes_overdue as the scheduler process sets it: school days past their county's cut-off that are not
closed — 0 after a tick that closed everything, the failing county's days while its close keeps failing, and every
school day a stopped scheduler missed."""

from __future__ import annotations

from datetime import date, datetime

from services.attendance.entrypoints.scheduler import run_scheduler
from services.attendance.tests.test_scheduler import A, OFFICER, closed, two_counties
from services.runtime.clock import CHINA
from services.runtime.metrics import Metrics


def ticks(app, metrics: Metrics, n: int = 1) -> float | None:
    """Runs the scheduler loop for ``n`` ticks; the gauge it left."""
    left = [n]

    def sleep(_seconds: float) -> None:
        left[0] -= 1

    run_scheduler(app.day_close, _Log(), lambda: left[0] <= 0, sleep, interval_s=0, default_cutoff="18:00",
                  metrics=metrics)
    return metrics.registry.get_sample_value("baoxue_day_closes_overdue", {"service": "attendance"})


class _Log:
    def __getattr__(self, _name):
        return lambda *a, **k: None


def test_the_gauge_counts_what_a_failing_county_leaves_open_and_drops_to_0_once_closed():
    app, clock, store = two_counties(datetime(2025, 9, 22, 8, 0, tzinfo=CHINA))  # Monday morning
    metrics = Metrics("attendance")
    assert ticks(app, metrics) == 0  # before the cut-off nothing is due
    store.failing_counties.add(A)
    clock.set(datetime(2025, 9, 22, 19, 0, tzinfo=CHINA))
    assert ticks(app, metrics) == 1  # county B closed, county A's school still open past 18:00
    assert not closed(app, "a-school", date(2025, 9, 22))
    clock.set(datetime(2025, 9, 23, 19, 0, tzinfo=CHINA))
    assert ticks(app, metrics) == 2  # and Tuesday joins Monday
    store.failing_counties.clear()
    assert ticks(app, metrics) == 0
    assert closed(app, "a-school", date(2025, 9, 22)) and closed(app, "a-school", date(2025, 9, 23))


def test_days_a_stopped_scheduler_missed_are_overdue_until_it_runs_again():
    app, clock, _ = two_counties(datetime(2025, 9, 15, 19, 0, tzinfo=CHINA))  # Monday evening
    metrics = Metrics("attendance")
    assert ticks(app, metrics) == 0
    clock.set(datetime(2025, 9, 20, 10, 0, tzinfo=CHINA))  # Saturday: Tuesday to Friday never closed
    assert app.day_close.overdue() == 8  # 4 school days x 2 schools; the weekend is no school day
    app.close_day("a-school", date(2025, 9, 16), OFFICER)  # one closed by hand meanwhile
    assert app.day_close.overdue() == 7
    assert ticks(app, metrics) == 0
