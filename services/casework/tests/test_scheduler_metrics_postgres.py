"""The casework scheduler's gauges on PostgreSQL: open cases per county (the 6-digit code, never a child's id) and
cases whose next step is past its deadline — a return notice's deadline passes, the scheduler fires it, and the
escalated case waits for its next legal step: overdue until someone takes it."""

from datetime import date, datetime

import pytest

from services.casework.adapters.projections_pg import PostgresCaseViews
from services.casework.entrypoints.scheduler import run_scheduler
from services.casework.tests.builders import MONDAY, acting, opened_case
from services.casework.tests.stories import unique_county
from services.runtime.clock import FixedClock
from services.runtime.db import Database
from services.runtime.metrics import Metrics

pytestmark = pytest.mark.integration


class _Log:
    def __getattr__(self, _name):
        return lambda *a, **k: None


def one_tick(app, clock, metrics: Metrics) -> None:
    left = [1]

    def sleep(_s: float) -> None:
        left[0] -= 1

    run_scheduler(app, clock, _Log(), lambda: left[0] <= 0, sleep, interval_s=0, batch_size=100, metrics=metrics)


def gauge(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"service": "casework", **labels})


def test_open_cases_per_county_and_an_overdue_legal_step(pg_app, pg_app_factory, casework_settings):
    county = unique_county()
    case = opened_case(pg_app, township_code=county + "001")
    db = Database(casework_settings.database_url, "casework")
    scheduler = pg_app_factory(index=PostgresCaseViews(db))
    metrics = Metrics("casework")
    try:
        clock = FixedClock(MONDAY)
        one_tick(scheduler, clock, metrics)
        assert gauge(metrics, "baoxue_cases_open", county=county) == 1
        assert scheduler.index.open_by_county(clock.now())[county] == (1, 0)

        pg_app.cases.act(case.id, "confirm_dropout", causes=["working_away"], cause_analysis="外出",
                         meta=acting("head_teacher", MONDAY))
        pg_app.cases.take_legal_step(case.id, step="return_notice", document_no="通知〔2025〕9号", addressee="父亲",
                                     deadline=date(2025, 9, 22), evidence=[], override_reason=None,
                                     meta=acting("school_staff", MONDAY))
        clock.set(datetime(2025, 9, 23, 8, 0, tzinfo=MONDAY.tzinfo))  # the notice's deadline passed
        one_tick(scheduler, clock, metrics)  # fires it; the case escalates and waits for the next step
        assert scheduler.queries.case(case.id).stage == "escalated"
        counts = scheduler.index.open_by_county(clock.now())
        assert counts[county] == (1, 1)
        assert gauge(metrics, "baoxue_case_deadlines_overdue") == sum(late for _, late in counts.values())
        assert gauge(metrics, "baoxue_cases_open", county=county) == 1
    finally:
        db.close()
