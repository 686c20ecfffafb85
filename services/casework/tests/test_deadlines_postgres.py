"""Deadlines on PostgreSQL: durable timers that survive a restart and fire exactly once."""

from datetime import date, datetime, timedelta
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
    tick(before, clock)  # an hour before the deadline: its reminder (both planned ones as one), not it
    assert deadline_events(pg_app, case.id) == []
    assert [h.data["days_before"] for h in pg_app.queries.case_history(case.id)
            if h.event == "DeadlineApproaching"] == [1]
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


def reminders(app, case_id) -> list:
    return [h for h in app.queries.case_history(case_id) if h.event == "DeadlineApproaching"]


def test_owners_are_reminded_three_days_and_one_day_before_a_deadline_once_each(pg_app, scheduler_factory):
    """Reminders are planned in the timer (default 3 and 1 days before), sent by the scheduler once each (two
    replicas at once send one), published as CaseDeadlineApproachingV1, and stop when the deadline fires."""
    from services.casework.adapters.publishing import to_contract

    case = opened_case(pg_app, township_code=unique_county() + "001")
    pg_app.cases.act(case.id, "confirm_dropout", causes=["working_away"], cause_analysis="外出",
                     meta=acting("head_teacher", MONDAY))
    pg_app.cases.take_legal_step(case.id, step="return_notice", document_no="通知〔2025〕9号", addressee="父亲",
                                 deadline=date(2025, 9, 22), evidence=[], override_reason=None,
                                 meta=acting("school_staff", MONDAY))
    [timer] = pg_app.queries.case(case.id).timers.values()
    assert [r["days_before"] for r in timer["reminders"]] == [3, 1]  # the deadline lasts through 9-22
    tz = MONDAY.tzinfo
    scheduler, twin = scheduler_factory(), scheduler_factory()
    clock = FixedClock(datetime(2025, 9, 19, 23, 59, tzinfo=tz))
    tick(scheduler, clock)
    assert reminders(pg_app, case.id) == []
    row = scheduler.index.db.transaction  # the index row holds the next reminder: the idle gate wakes for it
    with row() as conn:
        assert conn.execute("SELECT remind_at FROM due_timers WHERE timer_id = %s",
                            (timer["timer_id"],)).fetchone()["remind_at"] == datetime(2025, 9, 20, tzinfo=tz)

    clock.set(datetime(2025, 9, 20, 9, 0, tzinfo=tz))
    tick(scheduler, clock)
    tick(scheduler, clock)
    assert [h.data["days_before"] for h in reminders(pg_app, case.id)] == [3]  # sent once
    clock.set(datetime(2025, 9, 22, 9, 0, tzinfo=tz))
    start, results = Barrier(2), []

    def run(app):
        start.wait()
        results.append(tick(app, clock))

    threads = [Thread(target=run, args=(a,)) for a in (scheduler, twin)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = reminders(pg_app, case.id)
    assert [h.data["days_before"] for h in sent] == [3, 1] and {h.actor_id for h in sent} == {"system:casework"}
    facts = lambda _: (case.student_id, case.township_code)  # noqa: E731  (what the relay reads from the opening)
    contracts = [to_contract(e, facts) for e in pg_app.events.get(case.id)
                 if type(e).__name__ == "DeadlineApproaching"]
    assert [type(c).__name__ for c in contracts] == ["CaseDeadlineApproachingV1"] * 2
    assert contracts[1].timer_id == timer["timer_id"] and contracts[1].step == "return_notice"
    assert contracts[1].days_before == 1 and contracts[1].due_at == datetime(2025, 9, 23, tzinfo=tz)

    clock.set(datetime(2025, 9, 23, 8, 0, tzinfo=tz))
    tick(scheduler, clock)
    tick(scheduler, clock)
    assert len(deadline_events(pg_app, case.id)) == 1 and len(reminders(pg_app, case.id)) == 2


def test_a_deadline_set_closer_than_a_reminder_gets_only_the_later_ones_and_follow_up_is_reminded(pg_app,
                                                                                               scheduler_factory):
    case = opened_case(pg_app, township_code=unique_county() + "001")
    pg_app.cases.act(case.id, "confirm_dropout", causes=["other"], cause_analysis="不明",
                     meta=acting("head_teacher", MONDAY))
    pg_app.cases.take_legal_step(case.id, step="return_notice", document_no="通知10号", addressee="母亲",
                                 deadline=date(2025, 9, 16), evidence=[], override_reason=None,
                                 meta=acting("school_staff", MONDAY))  # ends 9-17 00:00: 3 days before is past
    [timer] = pg_app.queries.case(case.id).timers.values()
    assert [r["days_before"] for r in timer["reminders"]] == [1]
    pg_app.cases.confirm_return(case.id, date(2025, 9, 16), [], acting("school_staff", MONDAY.replace(day=16)))
    follow_up = [t for t in pg_app.queries.case(case.id).timers.values() if t["kind"] == "follow_up"]
    assert [r["days_before"] for r in follow_up[0]["reminders"]] == [3, 1]
    scheduler = scheduler_factory()
    tz = MONDAY.tzinfo
    tick(scheduler, FixedClock(datetime(2025, 9, 17, tzinfo=tz)))
    assert reminders(pg_app, case.id) == []  # the notice's timer was cancelled by the return
    due = datetime.fromisoformat(follow_up[0]["due_at"])
    tick(scheduler, FixedClock(due.replace(hour=12) - timedelta(days=1)))
    [sent] = reminders(pg_app, case.id)
    assert sent.data["kind"] == "follow_up" and sent.data["days_before"] == 1 and sent.data["covered"] == [1, 3]


def test_no_reminders_when_none_are_configured(casework_settings, pg_app_factory):
    from services.casework.domain.policy import CasePolicy
    from services.casework.domain.ladder import reminder_plan

    assert CasePolicy().reminder_days == (3, 1)
    assert reminder_plan(datetime(2025, 9, 23, tzinfo=MONDAY.tzinfo), (), MONDAY) == []
    assert casework_settings.model_copy(update={"deadline_reminder_days": []}).case_policy().reminder_days == ()
