"""Dashboards read from counters kept with the rows give exactly what counting the rows gives, on any day:
special groups that start and end, deadlines that pass during the day, a grade that changes after a case, and a
school that moves to another township (乡镇撤并) from a date; a rebuild gives the same counters."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from contracts.events import casework as c
from contracts.events import registry as r
from bench.reporting import synthetic
from services.reporting.adapters import dashboards
from services.reporting.adapters.queries import Scope, View
from services.reporting.adapters.rebuild import rebuild

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 1, 4, 0, tzinfo=timezone.utc)  # noon in China
DAYS = [datetime(2025, 9, 15, 4, 0, tzinfo=timezone.utc), datetime(2025, 9, 25, 4, 0, tzinfo=timezone.utc),
        datetime(2025, 10, 31, 20, 0, tzinfo=timezone.utc), NOW, datetime(2026, 7, 1, tzinfo=timezone.utc)]


def both(conn, now: datetime, code: str, school_id: str | None, monkeypatch) -> tuple:
    view = View(conn, None, now, {})
    fast = dashboards.dashboard(view, Scope("52"), code, school_id, {})
    with monkeypatch.context() as m:
        m.setattr(dashboards, "counted", lambda *a: None)
        rows = dashboards.dashboard(view, Scope("52"), code, school_id, {})
    return fast, rows


def units(conn) -> list[tuple[str, str | None]]:
    leaves = conn.execute("SELECT DISTINCT unit FROM dashboard_counts WHERE unit LIKE '%|%'").fetchall()
    codes = conn.execute("SELECT DISTINCT unit FROM dashboard_counts WHERE unit NOT LIKE '%|%'").fetchall()
    return ([(u["unit"], None) for u in codes] + [tuple(u["unit"].split("|")) for u in leaves]  # type: ignore[misc]
            + [("520101003", None), ("529", None)])


@pytest.fixture(params=["one_by_one", "one_batch"])
def moved(request, feed, reporting_db):
    """A history, then the changes below delivered one message at a time or all in one consumer batch (where each
    reads what earlier messages of the batch wrote but the buffered store has not yet written)."""
    feed.history(synthetic.history(seed=5, prefectures=2, counties=2, townships=2, schools=2, students=12))
    held: list = []
    if request.param == "one_batch":
        deliver = feed.deliver
        feed.deliver = lambda payload, **kw: held.append(deliver(payload, apply=False, **kw))  # type: ignore[method-assign]
    with reporting_db.transaction() as conn:
        schools = conn.execute("SELECT school_id, township_code FROM schools ORDER BY township_code, school_id "
                               "LIMIT 2").fetchall()
        confirmed = conn.execute("SELECT case_id, student_id, township_code FROM ledger WHERE status = 'confirmed' "
                                 "ORDER BY case_id LIMIT 3").fetchall()
        grouped = conn.execute("SELECT l.student_id, l.township_code FROM ledger l JOIN students s USING (student_id) "
                               "WHERE l.status IN ('suspected', 'confirmed') ORDER BY l.case_id LIMIT 1").fetchone()
    first, second = schools[0]["school_id"], schools[1]["school_id"]
    for school_id, effective in ((first, date(2025, 11, 1)), (second, date(2026, 6, 1))):
        feed.deliver(r.SchoolTownshipChangedV1(
            school_id=school_id, from_township_code="520101001", township_code="520101002", county_code="520101",
            effective=effective, reason="township_merged", division_code="520101001"), subject=school_id, at=NOW)
    feed.deliver(r.StudentEnrolledV1(  # enrolled after the move, with the new township
        student_id="after-move", school_id=first, county_code="520101", township_code="520101002", grade=3,
        class_name="3(1)班", name_masked="李*", id_number_masked="520101********0001"), at=NOW)
    for row, deadline in zip(confirmed, (NOW - timedelta(hours=2), NOW + timedelta(hours=2), NOW - timedelta(days=2))):
        feed.deliver(c.CaseEscalatedV1(case_id=row["case_id"], student_id=row["student_id"],
                                       township_code=row["township_code"], step="return_notice", issued_at=NOW,
                                       deadline_at=deadline, overridden=False, automatic=False), at=NOW)
    feed.deliver(r.SpecialGroupsChangedV1(student_id=grouped["student_id"], township_code=grouped["township_code"],
                                          groups=[r.SpecialGroup(group="orphan", since=date(2025, 9, 20),
                                                                 until=date(2025, 11, 1), source="civil_affairs"),
                                                  r.SpecialGroup(group="migrant", since=date(2025, 10, 1),
                                                                 source="civil_affairs")]), at=NOW)
    feed.deliver(r.StudentResumedV1(student_id=grouped["student_id"], school_id=first, township_code="520101002",
                                    on=date(2026, 2, 1), grade=5), at=NOW)
    if held:
        feed.sink.apply_batch(held)
    return first, second


def test_counters_give_what_counting_the_rows_gives_on_every_day(moved, reporting_db, monkeypatch):
    first, second = moved
    with reporting_db.transaction() as conn:
        every = units(conn)
        for now in DAYS:
            for code, school_id in every:
                fast, rows = both(conn, now, code, school_id, monkeypatch)
                assert fast == rows, (now, code, school_id)
        before, after = (both(conn, now, "520101002", None, monkeypatch)[0] for now in (DAYS[1], NOW))
    assert first not in {k["school_id"] for k in before["children"]}
    assert first in {k["school_id"] for k in after["children"]} and second not in {
        k["school_id"] for k in after["children"]}
    assert after["figures"]["overdue_deadlines"] > 0


def test_the_counters_rebuild_to_what_the_live_consumer_kept(moved, reporting_db):
    def counts():
        with reporting_db.transaction() as conn:
            return conn.execute("SELECT * FROM dashboard_counts ORDER BY unit, measure, key, since, until").fetchall()

    live = counts()
    assert live and all(row["n"] != 0 for row in live)
    rebuild(reporting_db, show_progress=False)
    assert counts() == live
