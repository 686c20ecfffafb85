"""Deadlines on PostgreSQL: durable timers that survive a restart and fire exactly once."""

from datetime import date, datetime
from threading import Barrier, Thread

import pytest

from services.casework.adapters.projections_pg import PostgresCaseViews
from services.casework.application.deadlines import tick
from services.casework.tests.builders import MONDAY, acting, opened_case
from services.casework.tests.stories import unique_county
from services.runtime.clock import FixedClock
from services.runtime.db import Database

pytestmark = pytest.mark.integration


def deadline_events(app, case_id) -> list:
    return [h for h in app.queries.case_history(case_id) if h.event == "DeadlinePassed"]


@pytest.fixture
def scheduler_factory(casework_settings, pg_app_factory):
    """A scheduler process's application: its own event-store connection and read models."""
    dbs = []

    def make():
        db = Database(casework_settings.database_url, "casework")
        dbs.append(db)
        return pg_app_factory(index=PostgresCaseViews(db))

    yield make
    for db in dbs:
        db.close()


def test_a_deadline_that_falls_during_a_restart_fires_once(pg_app, scheduler_factory):
    case = opened_case(pg_app, township_code=unique_county() + "001")
    pg_app.cases.act(case.id, "confirm_dropout", causes=["working_away"], cause_analysis="外出",
               meta=acting("head_teacher", MONDAY))
    pg_app.cases.take_legal_step(case.id, step="return_notice", document_no="通知〔2025〕7号", addressee="父亲",
                           deadline=date(2025, 9, 22), evidence=[], override_reason=None,
                           meta=acting("school_staff", MONDAY))
    clock = FixedClock(datetime(2025, 9, 22, 23, 0, tzinfo=MONDAY.tzinfo))
    before = scheduler_factory()
    assert tick(before, clock) == 0  # an hour before the deadline
    assert clock.now() < before.index.next_due() <= datetime(2025, 9, 23, 8, 0, tzinfo=MONDAY.tzinfo)
    before.close()  # the scheduler stops; the deadline passes while it is down

    clock.set(datetime(2025, 9, 23, 8, 0, tzinfo=MONDAY.tzinfo))
    after, twin = scheduler_factory(), scheduler_factory()  # restarted, and a second replica
    start = Barrier(2)
    results: list[int] = []

    def run(app):
        start.wait()
        results.append(tick(app, clock))

    threads = [Thread(target=run, args=(a,)) for a in (after, twin)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 1
    assert tick(after, clock) == 0
    [passed] = deadline_events(pg_app, case.id)
    assert passed.data["step"] == "return_notice" and passed.actor_id == "system:casework"
    assert pg_app.queries.case(case.id).timers[passed.data["timer_id"]]["status"] == "fired"


def test_a_timer_already_fired_is_not_fired_again_when_its_row_was_not_marked(pg_app, scheduler_factory):
    case = opened_case(pg_app, township_code=unique_county() + "001")
    pg_app.cases.act(case.id, "confirm_dropout", causes=["other"], cause_analysis="不明", meta=acting("head_teacher", MONDAY))
    pg_app.cases.take_legal_step(case.id, step="return_notice", document_no="通知8号", addressee="母亲",
                           deadline=date(2025, 9, 16), evidence=[], override_reason=None,
                           meta=acting("school_staff", MONDAY))
    [timer_id] = pg_app.queries.case(case.id).timers
    due = datetime(2025, 9, 18, tzinfo=MONDAY.tzinfo)
    assert pg_app.cases.fire_deadline(case.id, timer_id, due) is True  # fired, then the process died before marking
    scheduler = scheduler_factory()
    assert tick(scheduler, FixedClock(due)) == 0  # the index learns it fired from the case's own event
    assert len(deadline_events(pg_app, case.id)) == 1
